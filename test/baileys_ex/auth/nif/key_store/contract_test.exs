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
  alias BaileysEx.Signal.Store

  @sequences 12
  @length 40
  # Sequences stop starting after this long; at least one always runs.
  @budget_ms 25_000
  @workers 6
  @rounds 5

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

      test "concurrent transactions on shared and distinct keys end in the same files as the twin's",
           %{backend: backend, tmp_dir: tmp} do
        [twin | _] = configs = Contract.configs(backend)
        twin_dir = Path.join(tmp, "twin")
        run_concurrently(twin, twin_dir)

        for config <- configs -- [twin] do
          dir = Path.join(tmp, "#{config.name}")
          run_concurrently(config, dir)

          assert Contract.files(backend, dir) == Contract.files(backend, twin_dir),
                 "#{config.name}"
        end

        store = Contract.start(twin, twin_dir)

        assert Store.get(store, :"lid-mapping", ["counter"]) == %{
                 "counter" => "#{@workers * @rounds}"
               }

        for worker <- 1..@workers do
          id = "worker-#{worker}"
          expected = for round <- 1..@rounds, do: "#{round}"
          assert Store.get(store, :"device-list", [id]) == %{id => expected}
        end

        Contract.stop(store)
      end
    end
  end

  # Each worker, in every round: increments the shared counter in a
  # transaction on one key string, appends the round to its own list in a
  # transaction on its own key string, and sets its own token outside any
  # transaction. The end state does not depend on the interleaving.
  defp run_concurrently(config, dir) do
    store = Contract.start(config, dir)

    1..@workers
    |> Enum.map(fn worker ->
      Task.async(fn ->
        for round <- 1..@rounds do
          Store.transaction(store, "counter", fn tx ->
            count = tx |> Store.get(:"lid-mapping", ["counter"]) |> Map.get("counter", "0")
            next = Integer.to_string(String.to_integer(count) + 1)
            Store.set(tx, %{"lid-mapping": %{"counter" => next}})
          end)

          id = "worker-#{worker}"

          Store.transaction(store, id, fn tx ->
            list = tx |> Store.get(:"device-list", [id]) |> Map.get(id, [])
            Store.set(tx, %{"device-list": %{id => list ++ ["#{round}"]}})
          end)

          :ok = Store.set(store, %{tctoken: %{id => Contract.value(:tctoken, worker * 3)}})
        end
      end)
    end)
    |> Enum.each(&Task.await(&1, 60_000))

    Contract.stop(store)
  end
end
