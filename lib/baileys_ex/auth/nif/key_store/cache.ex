defmodule BaileysEx.Auth.NIF.KeyStore.Cache do
  @moduledoc """
  The key store's ETS cache, read from the callers' processes.

  One object per key that is known: `{{type, id}, version, found?, value}`.
  A key known to be absent is cached too (`found?` false), so it is not
  loaded again. `version` is unique to the write that put the object there.

  Every write to the cache happens while the writer holds the key's stripe
  lock (see `BaileysEx.Auth.NIF.KeyStore.Locks`), and a commit inserts all
  its objects with one `:ets.insert/2`, which is atomic and isolated. A
  reader that sees every key it asked for in the cache needs no lock: one
  key is one lookup, several keys are read twice and accepted only when no
  version changed between the two passes (a commit between them would have
  changed at least one).
  """

  @typedoc "A cache key: the key type and the id exactly as the caller gave it."
  @type key :: {term(), term()}

  @typedoc "What `invalidate/2` and `wipe/1` return, to put back with `restore/2`."
  @type saved :: [tuple()]

  @doc "Creates the cache table, owned by the calling process."
  @spec new() :: :ets.tid()
  def new do
    :ets.new(__MODULE__, [:set, :public, read_concurrency: true, write_concurrency: true])
  end

  @doc """
  Looks up `ids` of `type`: the values found (a cached `nil` included, as
  the original store answers it), the versions read, and the ids that are
  not cached, in order.
  """
  @spec read(:ets.tid(), term(), list()) :: {map(), [{key(), integer()}], list()}
  def read(table, type, ids) when is_list(ids) do
    {found, versions, missing} =
      Enum.reduce(ids, {%{}, [], []}, fn id, {found, versions, missing} ->
        key = {type, id}

        case :ets.lookup(table, key) do
          [{^key, version, true, value}] ->
            {Map.put(found, id, value), [{key, version} | versions], missing}

          [{^key, version, false, _}] ->
            {found, [{key, version} | versions], missing}

          [] ->
            {found, versions, [id | missing]}
        end
      end)

    {found, versions, Enum.reverse(missing)}
  end

  @doc "True when every key still holds the version read before."
  @spec unchanged?(:ets.tid(), [{key(), integer()}]) :: boolean()
  def unchanged?(table, versions) when is_list(versions) do
    Enum.all?(versions, fn {key, version} -> current_version(table, key) == version end)
  end

  defp current_version(table, key) do
    :ets.lookup_element(table, key, 2)
  rescue
    ArgumentError -> nil
  end

  @doc """
  Caches what a load returned for `ids`: the values in `loaded`, and every
  other id as absent.
  """
  @spec fill(:ets.tid(), term(), list(), map()) :: :ok
  def fill(table, type, ids, loaded) when is_list(ids) and is_map(loaded) do
    version = :erlang.unique_integer()

    objects =
      Enum.map(ids, fn id ->
        case Map.fetch(loaded, id) do
          {:ok, value} -> {{type, id}, version, true, value}
          :error -> {{type, id}, version, false, nil}
        end
      end)

    true = :ets.insert(table, objects)
    :ok
  end

  @doc """
  Caches the outcome of a commit in one atomic insert: each `{key, value}`
  as found, or absent when the value is `nil`.
  """
  @spec put(:ets.tid(), [{key(), term()}]) :: :ok
  def put(_table, []), do: :ok

  def put(table, entries) when is_list(entries) do
    version = :erlang.unique_integer()

    objects =
      Enum.map(entries, fn
        {key, nil} -> {key, version, false, nil}
        {key, value} -> {key, version, true, value}
      end)

    true = :ets.insert(table, objects)
    :ok
  end

  @doc """
  Removes `keys` before a commit writes them, returning their objects. If
  the writer dies before `put/2`, readers load those keys again rather than
  keep a value the disk may no longer hold.
  """
  @spec invalidate(:ets.tid(), [key()]) :: saved()
  def invalidate(table, keys) when is_list(keys) do
    saved = Enum.flat_map(keys, &:ets.lookup(table, &1))
    Enum.each(keys, &:ets.delete(table, &1))
    saved
  end

  @doc "Empties the cache, returning every object it held."
  @spec wipe(:ets.tid()) :: saved()
  def wipe(table) do
    saved = :ets.tab2list(table)
    true = :ets.delete_all_objects(table)
    saved
  end

  @doc "Puts back objects returned by `invalidate/2` or `wipe/1` after a failed commit."
  @spec restore(:ets.tid(), saved()) :: :ok
  def restore(_table, []), do: :ok

  def restore(table, saved) when is_list(saved) do
    true = :ets.insert(table, saved)
    :ok
  end

  @doc "The keys cached as found."
  @spec found_keys(:ets.tid()) :: [key()]
  def found_keys(table), do: :ets.select(table, [{{:"$1", :_, true, :_}, [], [:"$1"]}])
end
