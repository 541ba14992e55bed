defmodule BaileysEx.Auth.NIF.Test.FaultyPersistence do
  @moduledoc """
  A persistence module for key store tests that passes every call to a base
  module's directory, records the calls, and fails writes on demand.

  Its context is a `%BaileysEx.Auth.NIF.Test.FaultyPersistence{}`: the base
  module (the twin or ours wraps the same one), the directory, and an
  optional public ETS table where each call is recorded as
  `{:load, type, id}`, `{:load_many, type, ids}`, `{:save, type, id}`,
  `{:delete, type, id}` or `{:commit, changes}`.

  A value `{:fail_write, reason}` is never written: saving it returns
  `{:error, reason}`, and a `commit/2` holding it returns `{:error, reason}`
  before anything is written. Loading the id `"fail-load"` returns
  `{:error, :eio}`, alone or among others. This module exports `commit/2` and
  `load_many/3` (the base must too); `__MODULE__.KeyByKey` exports only
  the key-by-key callbacks.
  """

  @fail_load "fail-load"

  @enforce_keys [:base, :dir]
  defstruct [:base, :dir, log: nil]

  @typedoc "The context: base module, directory and call log."
  @type t :: %__MODULE__{base: module(), dir: Path.t(), log: :ets.tid() | nil}

  @doc "A context over `dir` through `base`, recording calls when `log?`."
  @spec context(module(), Path.t(), boolean()) :: t()
  def context(base, dir, log? \\ false) do
    log = if log?, do: :ets.new(__MODULE__, [:ordered_set, :public])
    %__MODULE__{base: base, dir: dir, log: log}
  end

  @doc "The calls recorded so far, in order."
  @spec calls(t()) :: [tuple()]
  def calls(%__MODULE__{log: log}), do: log |> :ets.tab2list() |> Enum.map(&elem(&1, 1))

  @doc "Forgets the recorded calls."
  @spec reset(t()) :: :ok
  def reset(%__MODULE__{log: log}) do
    true = :ets.delete_all_objects(log)
    :ok
  end

  @doc "Loads one key from the base."
  @spec load_keys(t(), atom(), term()) :: {:ok, term()} | {:error, term()}
  def load_keys(%__MODULE__{} = ctx, type, id) do
    record(ctx, {:load, type, id})
    if id == @fail_load, do: {:error, :eio}, else: ctx.base.load_keys(ctx.dir, type, id)
  end

  @doc "Saves one key through the base unless the value is `{:fail_write, reason}`."
  @spec save_keys(t(), atom(), term(), term()) :: :ok | {:error, term()}
  def save_keys(%__MODULE__{}, _type, _id, {:fail_write, reason}), do: {:error, reason}

  def save_keys(%__MODULE__{} = ctx, type, id, value) do
    record(ctx, {:save, type, id})
    ctx.base.save_keys(ctx.dir, type, id, value)
  end

  @doc "Deletes one key through the base."
  @spec delete_keys(t(), atom(), term()) :: :ok | {:error, term()}
  def delete_keys(%__MODULE__{} = ctx, type, id) do
    record(ctx, {:delete, type, id})
    ctx.base.delete_keys(ctx.dir, type, id)
  end

  @doc "Lists the base's keys."
  @spec list_persisted_keys(t()) :: {:ok, map()} | {:error, term()}
  def list_persisted_keys(%__MODULE__{} = ctx), do: ctx.base.list_persisted_keys(ctx.dir)

  @doc "Loads several keys with the base's `load_many/3`."
  @spec load_many(t(), atom(), list()) :: {:ok, map()} | {:error, term()}
  def load_many(%__MODULE__{} = ctx, type, ids) do
    record(ctx, {:load_many, type, ids})
    if @fail_load in ids, do: {:error, :eio}, else: ctx.base.load_many(ctx.dir, type, ids)
  end

  @doc "Commits with the base's `commit/2` unless a value is `{:fail_write, reason}`."
  @spec commit(t(), map()) :: :ok | {:error, term()}
  def commit(%__MODULE__{} = ctx, changes) do
    failure =
      Enum.find_value(changes, fn {_type, entries} ->
        Enum.find_value(entries, fn
          {_id, {:fail_write, reason}} -> {:error, reason}
          _ -> nil
        end)
      end)

    if failure do
      failure
    else
      record(ctx, {:commit, changes})
      ctx.base.commit(ctx.dir, changes)
    end
  end

  defp record(%__MODULE__{log: nil}, _call), do: :ok

  defp record(%__MODULE__{log: log}, call),
    do: :ets.insert(log, {:erlang.unique_integer([:monotonic]), call})

  defmodule KeyByKey do
    @moduledoc """
    `BaileysEx.Auth.NIF.Test.FaultyPersistence` without `commit/2` and
    `load_many/3`: a user's own persistence module, called key by key.
    """

    alias BaileysEx.Auth.NIF.Test.FaultyPersistence

    @doc "See `BaileysEx.Auth.NIF.Test.FaultyPersistence.load_keys/3`."
    @spec load_keys(FaultyPersistence.t(), atom(), term()) :: {:ok, term()} | {:error, term()}
    defdelegate load_keys(ctx, type, id), to: FaultyPersistence

    @doc "See `BaileysEx.Auth.NIF.Test.FaultyPersistence.save_keys/4`."
    @spec save_keys(FaultyPersistence.t(), atom(), term(), term()) :: :ok | {:error, term()}
    defdelegate save_keys(ctx, type, id, value), to: FaultyPersistence

    @doc "See `BaileysEx.Auth.NIF.Test.FaultyPersistence.delete_keys/3`."
    @spec delete_keys(FaultyPersistence.t(), atom(), term()) :: :ok | {:error, term()}
    defdelegate delete_keys(ctx, type, id), to: FaultyPersistence

    @doc "See `BaileysEx.Auth.NIF.Test.FaultyPersistence.list_persisted_keys/1`."
    @spec list_persisted_keys(FaultyPersistence.t()) :: {:ok, map()} | {:error, term()}
    defdelegate list_persisted_keys(ctx), to: FaultyPersistence
  end
end
