defmodule BaileysEx.Auth.NIF.KeyStore do
  @moduledoc """
  A Signal key store for BaileysEx (`BaileysEx.Signal.Store` callbacks)
  that keeps the answers of `BaileysEx.Auth.KeyStore` and does its work in
  the callers' processes, with one atomic commit per write.

      {:ok, store} =
        BaileysEx.Signal.Store.start_link(
          module: BaileysEx.Auth.NIF.KeyStore,
          persistence_module: BaileysEx.Auth.NIF.NativeFilePersistence,
          persistence_context: "auth_dir"
        )

  The auth-state helpers of both drop-ins name it in their `connect_opts`.

  Options, as for `BaileysEx.Auth.KeyStore`: `:persistence_module`
  (default `BaileysEx.Auth.NIF.NativeFilePersistence`),
  `:persistence_context` (passed to the module's context-aware callbacks;
  nil for its context-free ones) and `:name`. The original's
  `:max_commit_retries` and `:delay_between_tries_ms` are accepted and
  ignored: nothing is retried.

  ## Same answers

  `get/3` returns the entries found; writes inside a transaction are seen by
  it and by nobody else until it commits; a transaction whose function
  raises commits nothing and the exception goes on; a nested transaction
  reuses the handle; transactions are serialised per key string, waiters in
  arrival order, and a lock is freed when its owner dies; a `nil` for a
  pre-key that does not exist is not written; a failed write raises
  `BaileysEx.Auth.NIF.KeyStore.OperationError` with `action` and `reason`.

  ## How it differs from the original

    * **Work in the caller.** The store process only owns the cache table
      and the lock processes. Reads look up the ETS cache from the caller
      (absent keys are cached too); a miss holds the stripe locks of its
      keys and loads every missing id with one call. Writes of different
      keys by different processes run at the same time, so the persistence
      module can group their flushes.
    * **One atomic commit per write.** With a persistence module that
      exports `commit/2` and `load_many/3` (both drop-ins of this project)
      and a context, every `set/2` and every transaction commit is one
      all-or-nothing commit. There is no snapshot read before it and no
      rollback after it: a failure changes nothing on disk or in the
      cache. Any other persistence module is called key by key, with the
      same dispatch as the original (context-aware callbacks when exported
      and a context is set), and a failure keeps what was written before it.
    * **No retries.** A failed write raises in the caller at once. The
      original retries inside its one process (10 times, 3 s apart by
      default) while every other caller waits.
    * **Coherent cache.** Once `set/2` returns, every reader sees all of
      it; a single `get/3` never sees part of a commit.
    * **`clear/1` removes every key of the directory**: the ids the
      persistence module lists (`list_persisted_keys`) and every id this
      store has seen, in one commit. The original deletes only the ids its
      process has loaded or saved since it started.
  """

  alias BaileysEx.Auth.NIF.KeyStore.Commits
  alias BaileysEx.Auth.NIF.KeyStore.OperationError
  alias BaileysEx.Auth.NIF.KeyStore.Reads
  alias BaileysEx.Auth.NIF.KeyStore.Ref
  alias BaileysEx.Auth.NIF.KeyStore.Server
  alias BaileysEx.Auth.NIF.KeyStore.Transaction
  alias BaileysEx.Auth.NIF.KeyStore.TxRef

  @behaviour_module BaileysEx.Signal.Store
  if Code.ensure_loaded?(@behaviour_module), do: @behaviour(@behaviour_module)

  @default_persistence BaileysEx.Auth.NIF.NativeFilePersistence

  @typedoc "A store handle: outside a transaction, or inside one."
  @type handle :: Ref.t() | TxRef.t()

  @doc "The child spec for supervisors: `{BaileysEx.Auth.NIF.KeyStore, opts}`."
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) when is_list(opts) do
    %{id: __MODULE__, start: {__MODULE__, :start_link, [opts]}}
  end

  @doc """
  Starts a store over `:persistence_module` and `:persistence_context`,
  linked to the caller; `:name` registers it.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts \\ []) when is_list(opts) do
    case Keyword.get(opts, :persistence_module, @default_persistence) do
      module when is_atom(module) and module != nil ->
        Server.start_link(Keyword.put(opts, :persistence_module, module))

      other ->
        {:error, {:invalid_persistence_module, other}}
    end
  end

  @doc "The handle of the running store `pid`."
  @spec wrap(pid()) :: Ref.t()
  def wrap(pid) when is_pid(pid), do: Server.ref(pid)

  @doc """
  The entries of `ids` of `type` that exist, keyed as given. Inside a
  transaction, its own writes count.
  """
  @spec get(handle(), term(), list()) :: map()
  def get(%Ref{} = ref, type, ids) when is_list(ids), do: Reads.get(ref, type, ids)
  def get(%TxRef{} = tx, type, ids) when is_list(ids), do: Transaction.get(tx, type, ids)

  @doc """
  Writes `data` (`%{type => %{id => value | nil}}`, `nil` deletes) as one
  commit; inside a transaction, buffers it for the transaction's commit.
  """
  @spec set(handle(), map()) :: :ok
  def set(%Ref{} = ref, data) when is_map(data), do: ref |> Commits.run(data, false) |> ok!(:set)
  def set(%TxRef{} = tx, data) when is_map(data), do: Transaction.set(tx, data)

  @doc """
  Removes every key of the store's directory in one commit; inside a
  transaction, at its commit (what it writes after the clear is kept).
  """
  @spec clear(handle()) :: :ok
  def clear(%Ref{} = ref), do: ref |> Commits.run(%{}, true) |> ok!(:clear)
  def clear(%TxRef{} = tx), do: Transaction.clear(tx)

  @doc """
  Runs `fun` with a transaction handle, serialised with every other
  transaction on `key`, and commits what it wrote when it returns. Inside a
  transaction, runs `fun` with the same handle.
  """
  @spec transaction(handle(), String.t(), (handle() -> result)) :: result when result: var
  def transaction(%Ref{} = ref, key, fun) when is_binary(key) and is_function(fun, 1),
    do: Transaction.run(ref, key, fun)

  def transaction(%TxRef{} = tx, _key, fun) when is_function(fun, 1), do: fun.(tx)

  @doc "True for a transaction's handle."
  @spec in_transaction?(handle()) :: boolean()
  def in_transaction?(%Ref{}), do: false
  def in_transaction?(%TxRef{}), do: true

  defp ok!(:ok, _action), do: :ok
  defp ok!({:error, reason}, action), do: raise(OperationError, action: action, reason: reason)
end
