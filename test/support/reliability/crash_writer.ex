defmodule BaileysEx.Auth.NIF.Test.Reliability.CrashWriter do
  @moduledoc """
  The writer the crash harness kills: runs in its own VM and saves
  self-checking keys and credentials to one directory per backend, forever
  (bounded by a time limit), printing `B <backend> <key> <seq>` before and
  `A <backend> <key> <seq>` after each save that returned `:ok`.

  Sequence numbers start at the given base and grow by one per save, so a
  later writer's values are always "later" than an earlier writer's.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @types [:"device-list", :"lid-mapping", :"sender-key-memory"]
  @ids_per_type 3
  @max_seconds 120

  @doc "Every `{type, id}` the writer uses, `:creds` aside."
  @spec keys() :: [{atom(), String.t()}]
  def keys, do: for(type <- @types, n <- 1..@ids_per_type, do: {type, "k#{n}"})

  @doc "Entry point: `[base_seq, \"etf=/dir\", \"json=/dir\", ...]`."
  @spec main([String.t()]) :: no_return()
  def main([base | targets]) do
    base = String.to_integer(base)

    targets =
      for target <- targets do
        [name, dir] = String.split(target, "=", parts: 2)
        {:ok, backend} = Backend.fetch(name)
        # The first call opens the directory, removing earlier writers' orphans.
        {:ok, _} = backend.module.load_credentials(dir)
        {backend, dir}
      end

    _ = Backend.creds(0)
    IO.puts("READY")
    keys = List.to_tuple([:creds | keys()])
    targets = List.to_tuple(targets)
    deadline = System.monotonic_time(:second) + @max_seconds
    loop(base, targets, keys, deadline)
  end

  defp loop(seq, targets, keys, deadline) do
    if System.monotonic_time(:second) > deadline, do: System.halt(0)
    {backend, dir} = elem(targets, rem(div(seq, 7), tuple_size(targets)))
    key = elem(keys, :erlang.phash2({seq, :key}, tuple_size(keys)))
    label = "#{backend.name} #{key_label(key)} #{seq}"
    IO.puts("B " <> label)

    case save(backend, dir, key, seq) do
      :ok ->
        IO.puts("A " <> label)
        loop(seq + 1, targets, keys, deadline)

      other ->
        IO.puts("E #{label} #{inspect(other)}")
        System.halt(2)
    end
  end

  defp save(backend, dir, :creds, seq),
    do: backend.module.save_credentials(dir, Backend.creds(seq))

  defp save(backend, dir, {type, id}, seq),
    do: backend.module.save_keys(dir, type, id, Backend.key_value(backend, id, seq))

  @doc "How a key appears in the writer's output."
  @spec key_label(:creds | {atom(), String.t()}) :: String.t()
  def key_label(:creds), do: "creds"
  def key_label({type, id}), do: "#{type}/#{id}"
end
