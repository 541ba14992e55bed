defmodule BaileysEx.Auth.NIF.Test.Reliability.CrashWriter do
  @moduledoc """
  The writer the crash harness kills: runs in its own VM and saves
  self-checking keys and credentials to one directory per backend, forever
  (bounded by a time limit), printing `B <backend> <key> <seq>` before and
  `A <backend> <key> <seq>` after each save that returned `:ok`.

  In commit mode (`main_commits/1`) it first prints what it finds in each
  directory once opened, then commits random sets of saves and deletes
  (with the credentials now and then), printing
  `B <backend> <seq> <change> ...` before and `A <backend> <seq>` after each
  commit that returned `:ok`; a change is `+<key>` (saved with value `seq`)
  or `-<key>` (deleted), the credentials' key being `creds`.

  Sequence numbers start at the given base and grow by one per save or
  commit, so a later writer's values are always "later" than an earlier
  writer's.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @types [:"device-list", :"lid-mapping", :"sender-key-memory"]
  @ids_per_type 3
  @commit_ids_per_type 8
  @max_seconds 120

  @doc "Every `{type, id}` the writer uses, `:creds` aside."
  @spec keys() :: [{atom(), String.t()}]
  def keys, do: for(type <- @types, n <- 1..@ids_per_type, do: {type, "k#{n}"})

  @doc "Every `{type, id}` the commit mode uses, `:creds` aside."
  @spec commit_keys() :: [{atom(), String.t()}]
  def commit_keys, do: for(type <- @types, n <- 1..@commit_ids_per_type, do: {type, "c#{n}"})

  @doc "Entry point: `[base_seq, \"etf=/dir\", \"json=/dir\", ...]`."
  @spec main([String.t()]) :: no_return()
  def main([base | targets]) do
    base = String.to_integer(base)
    targets = open(targets)
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

  @doc "Entry point of the commit mode: `[base_seq, \"etf=/dir\", ...]`."
  @spec main_commits([String.t()]) :: no_return()
  def main_commits([base | targets]) do
    base = String.to_integer(base)
    targets = open(targets)
    report_state(targets)
    IO.puts("READY")
    deadline = System.monotonic_time(:second) + @max_seconds
    commit_loop(base, List.to_tuple(targets), deadline)
  end

  @doc """
  Entry point of the fresh-VM check in commit mode: opens each directory,
  prints what it holds (`report_state/1`) and whether any temp file or
  commit record is left, then `DONE`.
  """
  @spec main_state([String.t()]) :: :ok
  def main_state(targets) do
    targets = open(targets)
    report_state(targets)

    for {backend, dir} <- targets do
      left =
        Backend.temp_files(dir) ++ Enum.filter(File.ls!(dir), &String.ends_with?(&1, ".commit"))

      IO.puts("L #{backend.name} #{length(left)}")
    end

    IO.puts("DONE")
  end

  @doc """
  Prints `S <backend> <key> <state>` for the credentials and every commit
  key of each target, as this VM loads them: the `seq` a value carries,
  `absent`, `fresh` (credentials never saved), or `bad` (a value no writer
  wrote).
  """
  @spec report_state([{Backend.t(), Path.t()}]) :: :ok
  def report_state(targets) do
    for {backend, dir} <- targets do
      {:ok, creds} = backend.module.load_credentials(dir)
      IO.puts("S #{backend.name} creds #{state_word(Backend.check_creds(creds))}")

      for type <- @types do
        ids = for {^type, id} <- commit_keys(), do: id
        {:ok, found} = backend.module.load_many(dir, type, ids)

        for id <- ids do
          state =
            case found do
              %{^id => value} -> Backend.check_key_value(backend, id, value)
              _ -> :absent
            end

          IO.puts("S #{backend.name} #{key_label({type, id})} #{state_word(state)}")
        end
      end
    end

    :ok
  end

  defp state_word({:ok, seq}), do: Integer.to_string(seq)
  defp state_word(:error), do: "bad"
  defp state_word(word), do: Atom.to_string(word)

  # The first call opens the directory: it completes or rolls back a commit
  # an earlier writer's kill cut short, then removes that writer's orphans.
  defp open(targets) do
    for target <- targets do
      [name, dir] = String.split(target, "=", parts: 2)
      {:ok, backend} = Backend.fetch(name)
      {:ok, _} = backend.module.load_credentials(dir)
      {backend, dir}
    end
  end

  defp commit_loop(seq, targets, deadline) do
    if System.monotonic_time(:second) > deadline, do: System.halt(0)
    {backend, dir} = elem(targets, rem(seq, tuple_size(targets)))
    {changes, opts} = commit_changes(backend, seq)
    IO.puts("B #{backend.name} #{seq} #{Enum.join(commit_items(seq), " ")}")

    case backend.module.commit(dir, changes, opts) do
      :ok ->
        IO.puts("A #{backend.name} #{seq}")
        commit_loop(seq + 1, targets, deadline)

      other ->
        IO.puts("E #{backend.name} #{seq} #{inspect(other)}")
        System.halt(2)
    end
  end

  @doc """
  What commit `seq` changes, drawn from `seq` alone: `+<key>` for a save,
  `-<key>` for a delete, `+creds` for the credentials. One to eight keys, a
  fifth of them deleted, the credentials in a quarter of the commits. The
  commit of `seq` goes to the `rem(seq, n)`-th of the writer's `n` targets.
  """
  @spec commit_items(non_neg_integer()) :: [String.t()]
  def commit_items(seq) do
    {keys, creds?} = commit_plan(seq)

    for({key, save?} <- keys, do: "#{if save?, do: "+", else: "-"}#{key_label(key)}") ++
      if(creds?, do: ["+creds"], else: [])
  end

  @doc "The arguments of commit `seq` to `backend`: `{changes, options}`."
  @spec commit_changes(Backend.t(), non_neg_integer()) :: {map(), keyword()}
  def commit_changes(backend, seq) do
    {keys, creds?} = commit_plan(seq)

    changes =
      Enum.reduce(keys, %{}, fn {{type, id}, save?}, acc ->
        value = if save?, do: Backend.key_value(backend, id, seq)
        Map.update(acc, type, %{id => value}, &Map.put(&1, id, value))
      end)

    {changes, if(creds?, do: [credentials: Backend.creds(seq)], else: [])}
  end

  defp commit_plan(seq) do
    rng = :rand.seed_s(:exsss, {seq, 17, 3})
    {count, rng} = :rand.uniform_s(8, rng)
    {picked, rng} = Enum.map_reduce(1..count, rng, fn _, rng -> pick(commit_keys(), rng) end)

    {keys, rng} =
      picked
      |> Enum.uniq()
      |> Enum.map_reduce(rng, fn key, rng ->
        {roll, rng} = :rand.uniform_s(5, rng)
        {{key, roll != 1}, rng}
      end)

    {roll, _rng} = :rand.uniform_s(4, rng)
    {keys, roll == 1}
  end

  defp pick(list, rng) do
    {i, rng} = :rand.uniform_s(length(list), rng)
    {Enum.at(list, i - 1), rng}
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
