defmodule BaileysEx.Auth.NIF.KeyStore.Commits do
  @moduledoc """
  Writes of the key store (`set/2`, `clear/1` and a transaction's
  commit), run in the caller's process.

  A write holds the stripe locks of its keys (every stripe for a clear),
  removes those keys from the cache, makes one commit of the persistence
  module and caches the outcome with one atomic insert. On failure the
  removed cache objects are put back, so nothing changed. A writer killed
  between the commit and the insert leaves the keys uncached: readers load
  what the disk holds.
  """

  alias BaileysEx.Auth.NIF.Common
  alias BaileysEx.Auth.NIF.KeyStore.Cache
  alias BaileysEx.Auth.NIF.KeyStore.Locks
  alias BaileysEx.Auth.NIF.KeyStore.Persistence
  alias BaileysEx.Auth.NIF.KeyStore.Reads
  alias BaileysEx.Auth.NIF.KeyStore.Ref

  @pre_key :"pre-key"

  @doc """
  Writes `changes` (`%{type => %{id => value | nil}}`, `nil` deletes),
  after removing every key of the directory first when `clear?`. A `nil`
  for a pre-key that does not exist is dropped. Entries that are not maps
  are ignored, as in the original store.
  """
  @spec run(Ref.t(), map(), boolean()) :: :ok | {:error, term()}
  def run(%Ref{locks: locks} = ref, changes, clear?)
      when is_map(changes) and is_boolean(clear?) do
    changes = normalize(changes)

    cond do
      clear? ->
        Locks.with_locks(locks, Locks.all_key_names(), fn -> clear_and_write(ref, changes) end)

      changes == %{} ->
        :ok

      true ->
        Locks.with_locks(locks, Locks.key_names(keys(changes)), fn -> write(ref, changes) end)
    end
  end

  defp normalize(changes) do
    for {type, entries} <- changes, is_map(entries), map_size(entries) > 0, into: %{} do
      {type, entries}
    end
  end

  defp keys(changes), do: for({type, entries} <- changes, id <- Map.keys(entries), do: {type, id})

  defp write(ref, changes) do
    with {:ok, changes} <- drop_absent_pre_key_deletes(ref, changes) do
      if changes == %{}, do: :ok, else: commit(ref, changes)
    end
  end

  defp drop_absent_pre_key_deletes(ref, changes) do
    case deleted_pre_keys(changes) do
      [] ->
        {:ok, changes}

      ids ->
        with {:ok, existing} <- Reads.read_through(ref, @pre_key, ids),
             do: {:ok, keep_pre_key_deletes(changes, &Map.has_key?(existing, &1))}
    end
  end

  defp deleted_pre_keys(changes) do
    for {id, nil} <- Map.get(changes, @pre_key, %{}), do: id
  end

  defp keep_pre_key_deletes(changes, _keep?) when not is_map_key(changes, @pre_key), do: changes

  defp keep_pre_key_deletes(changes, keep?) do
    entries =
      for {id, value} <- changes[@pre_key], value != nil or keep?.(id), into: %{}, do: {id, value}

    if entries == %{},
      do: Map.delete(changes, @pre_key),
      else: Map.put(changes, @pre_key, entries)
  end

  defp commit(%Ref{cache: cache, persistence: persistence}, changes) do
    entries = for {type, es} <- changes, {id, value} <- es, do: {{type, id}, value}
    saved = Cache.invalidate(cache, Enum.map(entries, &elem(&1, 0)))

    case Persistence.commit(persistence, changes) do
      :ok ->
        Cache.put(cache, entries)

      {:error, reason, written, failed} ->
        # Key by key, what was written before the failure stays written; the
        # key that failed stays uncached, since its file is in doubt.
        :ok = Cache.put(cache, written)
        touched = MapSet.new([failed | Enum.map(written, &elem(&1, 0))])
        :ok = Cache.restore(cache, Enum.reject(saved, &MapSet.member?(touched, elem(&1, 0))))
        {:error, reason}
    end
  end

  # Every key the persistence module lists, and every key this store has
  # seen, is deleted in the same commit as `changes`. Nothing exists after
  # the clear, so a pre-key deletion is kept only for a key that exists but
  # escaped the listing (a module without `list_persisted_keys`).
  defp clear_and_write(%Ref{cache: cache, persistence: persistence} = ref, changes) do
    with {:ok, listed} <- listed(persistence),
         deletions = deletions(listed, Cache.found_keys(cache)),
         {:ok, changes} <- pre_key_deletes_after_clear(ref, changes, deletions) do
      saved = Cache.wipe(cache)

      case Persistence.commit(persistence, merge(deletions, changes)) do
        :ok ->
          Cache.put(cache, for({type, es} <- changes, {id, v} <- es, do: {{type, id}, v}))

        {:error, reason, _written, _failed} ->
          # Key by key, the cache stays empty: readers load what is left.
          if persistence.mode == :atomic, do: Cache.restore(cache, saved)
          {:error, reason}
      end
    end
  end

  defp listed(persistence) do
    case Persistence.list(persistence) do
      {:ok, listed} -> {:ok, listed}
      :unsupported -> {:ok, %{}}
      {:error, _reason} = error -> error
    end
  end

  # Deletions by type, keyed by the id's file-name string so that one key
  # listed as "1" and seen as 1 is deleted once.
  defp deletions(listed, found_keys) do
    listed_keys = for {type, ids} <- listed, is_list(ids), id <- ids, do: {type, id}

    Enum.reduce(listed_keys ++ found_keys, %{}, fn {type, id}, acc ->
      Map.update(acc, type, %{id_string(id) => nil}, &Map.put(&1, id_string(id), nil))
    end)
  end

  defp pre_key_deletes_after_clear(ref, changes, deletions) do
    gone = Map.get(deletions, @pre_key, %{})

    case Enum.reject(deleted_pre_keys(changes), &Map.has_key?(gone, id_string(&1))) do
      [] ->
        {:ok, keep_pre_key_deletes(changes, fn _id -> false end)}

      ids ->
        with {:ok, existing} <- Persistence.load(ref.persistence, @pre_key, ids),
             do: {:ok, keep_pre_key_deletes(changes, &(Map.get(existing, &1) != nil))}
    end
  end

  defp merge(deletions, changes) do
    Map.merge(deletions, changes, fn _type, deleted, entries ->
      written = MapSet.new(Map.keys(entries), &id_string/1)
      deleted |> Map.reject(fn {id, nil} -> MapSet.member?(written, id) end) |> Map.merge(entries)
    end)
  end

  defp id_string(id) do
    case Common.key_id(id) do
      {:ok, string} -> string
      {:error, _reason} -> id
    end
  end
end
