defmodule BaileysEx.Auth.NIF.KeyStore.ContractTest do
  @moduledoc """
  The Signal store contract, checked by replay: seeded random sequences of
  get, set (with deletes), clear, transactions (nested, raising, failing)
  and restarts run against the twin of `BaileysEx.Auth.KeyStore` and
  against `BaileysEx.Auth.NIF.KeyStore` (atomic and key by key) over both
  backends; every answer must equal the twin's, call by call, and the
  directories must end up equal, file by file. See
  `BaileysEx.Auth.NIF.Test.KeyStoreContract` for what is generated and how
  the documented differences are kept out of the comparison.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.KeyStoreContract, as: Contract

  @sequences 12
  @length 40
  # Sequences stop starting after this long; at least one always runs.
  @budget_ms 25_000

  for backend <- Backends.all() do
    describe backend.title do
      @describetag :tmp_dir
      @describetag backend: backend

      test "random sequences: ours answers as the twin, call by call, and writes the same files",
           %{backend: backend, tmp_dir: tmp} do
        [twin | ours] = Contract.configs(backend)
        deadline = System.monotonic_time(:millisecond) + @budget_ms

        ran =
          Enum.reduce_while(1..@sequences, 0, fn seed, ran ->
            for config <- ours do
              calls = Contract.sequence(seed, @length, Contract.failures?(config))
              twin_dir = Path.join([tmp, "#{seed}", "#{config.name}-twin"])
              our_dir = Path.join([tmp, "#{seed}", "#{config.name}"])
              expected = Contract.run(twin, twin_dir, calls)
              actual = Contract.run(config, our_dir, calls)

              difference = Contract.first_difference(calls, expected, actual)

              assert difference == nil,
                     "seed #{seed}, #{config.name}: first differing call " <>
                       "{index, call, twin, ours}: #{inspect(difference, pretty: true)}"

              assert Contract.files(backend, our_dir) == Contract.files(backend, twin_dir),
                     "seed #{seed}, #{config.name}: directories differ"
            end

            if System.monotonic_time(:millisecond) < deadline,
              do: {:cont, ran + 1},
              else: {:halt, ran + 1}
          end)

        IO.puts(
          "\n#{backend.title}: #{ran} seeds x #{@length} calls x 2 stores compared with the twin"
        )
      end
    end
  end
end
