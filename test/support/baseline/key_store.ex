defmodule BaileysEx.Auth.NIF.Baseline.KeyStore do
  @moduledoc """
  Pure-Elixir twin of `BaileysEx.Auth.KeyStore` (baileys_ex 0.1.0-alpha.11),
  the Signal store `BaileysEx.Auth.NIF.KeyStore` is compared with. Used by
  tests when the real library is not installed. Never shipped.

  It does the same work per call as the original:

    * one GenServer owns a protected ETS cache (absent keys cached as the
      atom `:"$missing"`) and the transaction locks
      (`BaileysEx.Auth.NIF.Baseline.KeyStore.LockManager`); `get/3` reads
      the cache in the caller and asks the GenServer for the misses, which
      it loads key by key;
    * every `set/2`, transaction commit and `clear/1` runs inside the
      GenServer. A write first reads a snapshot of every key it will write
      (loading the ones not cached), then saves and deletes key by key
      (a pre-key deletion only for a key that exists); on a failure it
      writes the snapshot back and, while attempts are left
      (`:max_commit_retries`, default 10), sleeps `:delay_between_tries_ms`
      (default 3000) in the GenServer and tries again;
    * `clear/1` deletes the ids the GenServer has loaded or saved since it
      started (ids read only by a snapshot are not among them) and empties
      the cache;
    * transactions buffer their reads and writes in a private table of the
      caller (`BaileysEx.Auth.NIF.Baseline.KeyStore.TransactionBuffer`)
      and send them to the GenServer to commit.

  Persistence calls use the widest arity the module exports (the
  context-aware one when a context is set). The default persistence module
  is the twin of the original's default,
  `BaileysEx.Auth.NIF.Baseline.NativeFilePersistence`.
  """

  use GenServer

  alias BaileysEx.Auth.NIF.Baseline.KeyStore.LockManager
  alias BaileysEx.Auth.NIF.Baseline.KeyStore.TransactionBuffer, as: Buffer
  alias BaileysEx.Auth.NIF.Test.KeyStoreDispatch

  @absent :"$missing"

  defmodule OperationError do
    @moduledoc "What the twin raises when a store operation fails: `action` and `reason`."
    defexception [:action, :reason]

    @impl true
    def message(%__MODULE__{action: action, reason: reason}),
      do: "key store #{action} failed: #{inspect(reason)}"
  end

  defmodule Ref do
    @moduledoc "The twin's store handle: the GenServer and its cache table."
    @enforce_keys [:pid, :table]
    defstruct [:pid, :table]

    @typedoc "A store handle."
    @type t :: %__MODULE__{pid: pid(), table: :ets.tid()}
  end

  defmodule TxRef do
    @moduledoc "The twin's transaction handle: the store's and the transaction's buffer."
    @enforce_keys [:pid, :table, :tx_table]
    defstruct [:pid, :table, :tx_table]

    @typedoc "A transaction handle."
    @type t :: %__MODULE__{pid: pid(), table: :ets.tid(), tx_table: :ets.tid()}
  end

  @doc "Starts the store GenServer; `:name` registers it."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, opts, name: opts[:name])

  @doc "The handle of the running store `pid` (one call to it, for the table)."
  @spec wrap(pid()) :: Ref.t()
  def wrap(pid) when is_pid(pid), do: %Ref{pid: pid, table: GenServer.call(pid, :table)}

  @doc "The entries found for `ids`."
  @spec get(Ref.t() | TxRef.t(), term(), list()) :: map()
  def get(%Ref{} = ref, type, ids) when is_list(ids) do
    {found, missing} = cached(ref.table, type, ids)

    case missing do
      [] -> found
      _ -> Map.merge(found, fetch!(ref.pid, type, missing))
    end
  end

  def get(%TxRef{tx_table: buffer} = tx, type, ids) when is_list(ids) do
    case Buffer.cached_entries(buffer, type, ids) do
      {_found, []} ->
        :ok

      {_found, missing} ->
        fetched = if Buffer.cleared?(buffer), do: %{}, else: fetch!(tx.pid, type, missing)
        Buffer.cache_fetched(buffer, type, missing, fetched)
    end

    buffer |> Buffer.cached_entries(type, ids) |> elem(0)
  end

  @doc "Writes `data` through the GenServer; inside a transaction, buffers it."
  @spec set(Ref.t() | TxRef.t(), map()) :: :ok
  def set(%Ref{pid: pid}, data) when is_map(data),
    do: pid |> GenServer.call({:set, data}, :infinity) |> ok!(:set)

  def set(%TxRef{tx_table: buffer} = tx, data) when is_map(data) do
    Enum.each(data, fn
      {:"pre-key", entries} ->
        Enum.each(entries, fn
          {id, nil} ->
            if Map.has_key?(get(tx, :"pre-key", [id]), id),
              do: Buffer.put_entry(buffer, :"pre-key", id, nil)

          {id, value} ->
            Buffer.put_entry(buffer, :"pre-key", id, value)
        end)

      {type, entries} ->
        Buffer.put_entries(buffer, %{type => entries})
    end)
  end

  @doc "Deletes the known ids; inside a transaction, marks its buffer cleared."
  @spec clear(Ref.t() | TxRef.t()) :: :ok
  def clear(%Ref{pid: pid}), do: pid |> GenServer.call(:clear, :infinity) |> ok!(:clear)
  def clear(%TxRef{tx_table: buffer}), do: Buffer.clear(buffer)

  @doc "Runs `fun` under the lock of `key` and commits its writes; nested, reuses the handle."
  @spec transaction(Ref.t() | TxRef.t(), String.t(), (TxRef.t() -> result)) :: result
        when result: var
  def transaction(%Ref{pid: pid, table: table}, key, fun)
      when is_binary(key) and is_function(fun, 1) do
    :ok = GenServer.call(pid, {:lock, key, self()}, :infinity)
    buffer = Buffer.new()

    try do
      result = fun.(%TxRef{pid: pid, table: table, tx_table: buffer})
      commit = {:commit_tx, Buffer.cleared?(buffer), Buffer.mutation_data(buffer)}
      :ok = pid |> GenServer.call(commit, :infinity) |> ok!(:transaction)
      result
    after
      Buffer.delete(buffer)
      :ok = GenServer.call(pid, {:unlock, key, self()}, :infinity)
    end
  end

  def transaction(%TxRef{} = tx, _key, fun) when is_function(fun, 1), do: fun.(tx)

  @doc "True for a transaction handle."
  @spec in_transaction?(Ref.t() | TxRef.t()) :: boolean()
  def in_transaction?(%Ref{}), do: false
  def in_transaction?(%TxRef{}), do: true

  defp ok!(:ok, _action), do: :ok
  defp ok!({:error, reason}, action), do: raise(OperationError, action: action, reason: reason)

  defp fetch!(pid, type, ids) do
    case GenServer.call(pid, {:fetch_missing, type, ids}, :infinity) do
      {:ok, fetched} -> fetched
      {:error, reason} -> raise OperationError, action: :get, reason: reason
    end
  end

  # Cached values (a cached nil included), and the ids not cached, in order.
  defp cached(table, type, ids) do
    {found, missing} =
      Enum.reduce(ids, {%{}, []}, fn id, {found, missing} ->
        case lookup(table, type, id) do
          {:ok, value} -> {Map.put(found, id, value), missing}
          :absent -> {found, missing}
          :miss -> {found, [id | missing]}
        end
      end)

    {found, Enum.reverse(missing)}
  end

  defp lookup(table, type, id) do
    case :ets.lookup(table, {type, id}) do
      [{_, @absent}] -> :absent
      [{_, value}] -> {:ok, value}
      [] -> :miss
    end
  end

  # --- the GenServer ---------------------------------------------------------

  @impl true
  def init(opts) do
    {:ok,
     %{
       table: :ets.new(__MODULE__, [:set, :protected, read_concurrency: true]),
       module:
         Keyword.get(opts, :persistence_module, BaileysEx.Auth.NIF.Baseline.NativeFilePersistence),
       context: Keyword.get(opts, :persistence_context),
       locks: %{},
       monitor_keys: %{},
       known: %{},
       attempts: Keyword.get(opts, :max_commit_retries, 10),
       delay: Keyword.get(opts, :delay_between_tries_ms, 3_000)
     }}
  end

  @impl true
  def handle_call(:table, _from, state), do: {:reply, state.table, state}

  def handle_call({:fetch_missing, type, ids}, _from, state) do
    case fetch(state, type, ids) do
      {:ok, fetched, state} -> {:reply, {:ok, fetched}, state}
      {:error, reason, state} -> {:reply, {:error, reason}, state}
    end
  end

  def handle_call({:set, data}, _from, state), do: reply(commit(state, data, false))

  def handle_call({:commit_tx, clear?, data}, _from, state),
    do: reply(commit(state, data, clear?))

  def handle_call(:clear, _from, state), do: reply(delete_known(state))

  def handle_call({:lock, key, owner}, from, state) do
    case LockManager.acquire(state, key, from, owner) do
      {:acquired, state} -> {:reply, :ok, state}
      {:queued, state} -> {:noreply, state}
    end
  end

  def handle_call({:unlock, key, owner}, _from, state),
    do: {:reply, :ok, LockManager.release(state, key, owner)}

  @impl true
  def handle_info({:DOWN, monitor, :process, owner, _reason}, state),
    do: {:noreply, LockManager.owner_down(state, monitor, owner)}

  defp reply({:ok, state}), do: {:reply, :ok, state}
  defp reply({:error, reason, state}), do: {:reply, {:error, reason}, state}

  # Values found for `ids` (a nil value counts as not found), from the cache
  # or loaded and cached one by one. Stops at the first failed load.
  defp fetch(state, type, ids) do
    Enum.reduce_while(ids, {:ok, %{}, state}, fn id, {:ok, fetched, state} ->
      case fetch_one(state, type, id) do
        {:ok, nil, state} -> {:cont, {:ok, fetched, state}}
        {:ok, value, state} -> {:cont, {:ok, Map.put(fetched, id, value), state}}
        {:error, reason, state} -> {:halt, {:error, reason, state}}
      end
    end)
  end

  defp fetch_one(state, type, id) do
    case lookup(state.table, type, id) do
      {:ok, value} ->
        {:ok, value, state}

      :absent ->
        {:ok, nil, state}

      :miss ->
        case persistence(state, :load_keys, [type, id]) do
          {:ok, value} ->
            cache(state, type, id, value)
            {:ok, value, know(state, type, id)}

          {:error, :not_found} ->
            cache(state, type, id, @absent)
            {:ok, nil, state}

          {:error, reason} ->
            {:error, reason, state}
        end
    end
  end

  defp cache(state, type, id, value), do: true = :ets.insert(state.table, {{type, id}, value})

  defp know(state, type, id),
    do: %{state | known: Map.update(state.known, type, MapSet.new([id]), &MapSet.put(&1, id))}

  defp forget(state, type, id) do
    case state.known do
      %{^type => ids} -> %{state | known: Map.put(state.known, type, MapSet.delete(ids, id))}
      _ -> state
    end
  end

  defp commit(state, data, false) when map_size(data) == 0, do: {:ok, state}
  defp commit(state, data, clear?), do: attempt(state, data, clear?, state.attempts)

  defp attempt(state, _data, _clear?, left) when left <= 0,
    do: {:error, :commit_retry_exhausted, state}

  defp attempt(state, data, clear?, left) do
    data =
      for {type, entries} <- data, is_map(entries), entries != %{}, into: %{}, do: {type, entries}

    snapshot = snapshot(state, data, clear?)

    case write(state, data, clear?) do
      {:ok, state} ->
        {:ok, state}

      {:error, reason, state} ->
        case write_back(state, snapshot) do
          {:ok, state} when left > 1 ->
            Process.sleep(state.delay)
            attempt(state, data, clear?, left - 1)

          {:ok, state} ->
            {:error, reason, state}

          {:error, rollback_reason, state} ->
            {:error, {:rollback_failed, reason, rollback_reason}, state}
        end
    end
  end

  # The value of every key the write touches (after a clear: every known id
  # too), `@absent` for keys that do not exist or failed to load. Loads here
  # fill the cache but do not make ids known.
  defp snapshot(state, data, clear?) do
    ids_by_type = for {type, entries} <- data, into: %{}, do: {type, Map.keys(entries)}

    ids_by_type =
      if clear? do
        known = for {type, ids} <- state.known, into: %{}, do: {type, MapSet.to_list(ids)}
        Map.merge(known, ids_by_type, fn _type, known, ids -> Enum.uniq(known ++ ids) end)
      else
        ids_by_type
      end

    for {type, ids} <- ids_by_type, into: %{} do
      {found, missing} = cached(state.table, type, ids)

      loaded =
        case fetch(state, type, missing) do
          {:ok, loaded, _state} -> loaded
          {:error, _reason, _state} -> %{}
        end

      {type, Map.new(ids, &{&1, Map.get(found, &1, Map.get(loaded, &1, @absent))})}
    end
  end

  defp write(state, data, false), do: write_types(state, data)

  defp write(state, data, true) do
    case delete_known(state) do
      {:ok, state} -> write_types(state, data)
      error -> error
    end
  end

  defp write_types(state, data) do
    Enum.reduce_while(data, {:ok, state}, fn {type, entries}, {:ok, state} ->
      with {:ok, entries, state} <- existing_pre_key_deletes(state, type, entries),
           {:ok, state} <- write_entries(state, type, entries) do
        {:cont, {:ok, state}}
      else
        error -> {:halt, error}
      end
    end)
  end

  defp existing_pre_key_deletes(state, :"pre-key", entries) do
    {deletes, saves} = Enum.split_with(entries, fn {_id, value} -> is_nil(value) end)

    case fetch(state, :"pre-key", Enum.map(deletes, &elem(&1, 0))) do
      {:ok, existing, state} ->
        kept = for {id, nil} <- deletes, Map.has_key?(existing, id), into: %{}, do: {id, nil}
        {:ok, Map.merge(Map.new(saves), kept), state}

      error ->
        error
    end
  end

  defp existing_pre_key_deletes(state, _type, entries), do: {:ok, entries, state}

  defp write_entries(state, type, entries) do
    Enum.reduce_while(entries, {:ok, state}, fn {id, value}, {:ok, state} ->
      case write_entry(state, type, id, value) do
        {:ok, state} -> {:cont, {:ok, state}}
        {:error, reason} -> {:halt, {:error, reason, state}}
      end
    end)
  end

  defp write_entry(state, type, id, nil) do
    with :ok <- persistence(state, :delete_keys, [type, id]) do
      cache(state, type, id, @absent)
      {:ok, forget(state, type, id)}
    end
  end

  defp write_entry(state, type, id, value), do: save_entry(state, type, id, value)

  defp save_entry(state, type, id, value) do
    with :ok <- persistence(state, :save_keys, [type, id, value]) do
      cache(state, type, id, value)
      {:ok, know(state, type, id)}
    end
  end

  # The snapshot is written back key by key: `@absent` deletes, any other
  # value (a cached nil too) is saved.
  defp write_back(state, snapshot) do
    Enum.reduce_while(snapshot, {:ok, state}, fn {type, values}, {:ok, state} ->
      case write_back_entries(state, type, values) do
        {:ok, state} -> {:cont, {:ok, state}}
        error -> {:halt, error}
      end
    end)
  end

  defp write_back_entries(state, type, values) do
    Enum.reduce_while(values, {:ok, state}, fn {id, value}, {:ok, state} ->
      written =
        if value == @absent,
          do: write_entry(state, type, id, nil),
          else: save_entry(state, type, id, value)

      case written do
        {:ok, state} -> {:cont, {:ok, state}}
        {:error, reason} -> {:halt, {:error, reason, state}}
      end
    end)
  end

  # Deletes every known id (nothing else), then empties the cache and forgets
  # them all. A failure leaves the cache and the known ids as they were.
  defp delete_known(state) do
    deleted =
      Enum.reduce_while(state.known, :ok, fn {type, ids}, :ok ->
        case Enum.find_value(ids, &error(persistence(state, :delete_keys, [type, &1]))) do
          nil -> {:cont, :ok}
          reason -> {:halt, {:error, reason}}
        end
      end)

    case deleted do
      :ok ->
        true = :ets.delete_all_objects(state.table)
        {:ok, %{state | known: %{}}}

      {:error, reason} ->
        {:error, reason, state}
    end
  end

  defp error(:ok), do: nil
  defp error({:error, reason}), do: reason

  defp persistence(%{module: module, context: context}, fun, args),
    do: KeyStoreDispatch.call(module, context, fun, args)
end
