defmodule BaileysEx.Auth.NIF.KeyStore.Reads do
  @moduledoc """
  Reads of the key store, run in the caller's process.

  A read whose keys are all cached takes no lock (see
  `BaileysEx.Auth.NIF.KeyStore.Cache`). Otherwise it holds the stripe
  locks of its keys, so no commit of those keys is under way, reads the
  cache again and loads every missing id with one call to the persistence
  module; what the load finds, and what it does not, is cached.
  """

  alias BaileysEx.Auth.NIF.KeyStore.Cache
  alias BaileysEx.Auth.NIF.KeyStore.Locks
  alias BaileysEx.Auth.NIF.KeyStore.OperationError
  alias BaileysEx.Auth.NIF.KeyStore.Persistence
  alias BaileysEx.Auth.NIF.KeyStore.Ref

  @doc """
  The entries of `ids` that exist, keyed as given. A failed load raises
  `OperationError` with action `:get`.
  """
  @spec get(Ref.t(), term(), list()) :: map()
  def get(%Ref{cache: cache} = ref, type, ids) when is_list(ids) do
    case Cache.read(cache, type, ids) do
      {found, versions, []} ->
        if match?([_], ids) or Cache.unchanged?(cache, versions),
          do: found,
          else: locked_get(ref, type, ids)

      {_found, _versions, _missing} ->
        locked_get(ref, type, ids)
    end
  end

  @doc """
  Like `get/3` but without entries whose value is `nil`: how the original
  store answers inside a transaction and checks that a pre-key exists.
  """
  @spec fetch(Ref.t(), term(), list()) :: map()
  def fetch(%Ref{} = ref, type, ids) when is_list(ids) do
    ref |> get(type, ids) |> drop_nil()
  end

  @doc """
  Reads `ids` through the cache, loading and caching the missing ones. The
  caller holds the stripe locks of these keys. Loaded `nil` values are
  cached but left out of the answer, as the original store does.
  """
  @spec read_through(Ref.t(), term(), list()) :: {:ok, map()} | {:error, term()}
  def read_through(%Ref{cache: cache, persistence: persistence}, type, ids) when is_list(ids) do
    {found, _versions, missing} = Cache.read(cache, type, ids)
    missing = Enum.uniq(missing)

    with {:ok, loaded} <- Persistence.load(persistence, type, missing) do
      loaded = Map.take(loaded, missing)
      :ok = Cache.fill(cache, type, missing, loaded)
      {:ok, Map.merge(found, drop_nil(loaded))}
    end
  end

  @doc "The cache keys of `ids` of `type`."
  @spec keys(term(), list()) :: [Cache.key()]
  def keys(type, ids), do: Enum.map(ids, &{type, &1})

  defp locked_get(%Ref{locks: locks} = ref, type, ids) do
    names = Locks.key_names(keys(type, ids))

    case Locks.with_locks(locks, names, fn -> read_through(ref, type, ids) end) do
      {:ok, found} -> found
      {:error, reason} -> raise OperationError, action: :get, reason: reason
    end
  end

  defp drop_nil(entries),
    do: for({id, value} <- entries, value != nil, into: %{}, do: {id, value})
end
