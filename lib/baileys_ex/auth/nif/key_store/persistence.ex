defmodule BaileysEx.Auth.NIF.KeyStore.Persistence do
  @moduledoc """
  How the key store reaches its persistence module.

  *Atomic*: the module exports `commit/2` and `load_many/3` (this
  project's two drop-ins) and a context is set. A load is one
  `load_many(context, type, ids)`; a write is one
  `commit(context, %{type => %{id => value | nil}})`, all or nothing.

  *Key by key*: any other module, as `BaileysEx.Auth.KeyStore` calls it:
  the context-aware callback (`load_keys/3`, `save_keys/4`,
  `delete_keys/3`, `list_persisted_keys/1`) when it is exported and a
  context is set, else the context-free one (`load_keys/2`, ...), else
  `{:error, {:unsupported_persistence_operation, module, fun}}`. A write
  stops at the first failure and keeps what it wrote before it.
  """

  @enforce_keys [:module, :context, :mode]
  defstruct [:module, :context, :mode]

  @typedoc "A persistence module, its context and how it is called."
  @type t :: %__MODULE__{module: module(), context: term(), mode: :atomic | :key_by_key}

  @typedoc "Saves (`value`) and deletes (`nil`) by key type and id."
  @type changes :: %{optional(term()) => %{optional(term()) => term()}}

  @doc "Describes `module` with `context` (nil for the module's context-free callbacks)."
  @spec new(module(), term()) :: t()
  def new(module, context) when is_atom(module) do
    Code.ensure_loaded(module)

    atomic? =
      context != nil and function_exported?(module, :commit, 2) and
        function_exported?(module, :load_many, 3)

    %__MODULE__{
      module: module,
      context: context,
      mode: if(atomic?, do: :atomic, else: :key_by_key)
    }
  end

  @doc """
  Loads `ids` of `type`: `{:ok, found}` with the ids that exist, keyed as
  given.
  """
  @spec load(t(), term(), list()) :: {:ok, map()} | {:error, term()}
  def load(%__MODULE__{}, _type, []), do: {:ok, %{}}

  def load(%__MODULE__{mode: :atomic, module: module, context: context}, type, ids) do
    case module.load_many(context, type, ids) do
      {:ok, found} when is_map(found) -> {:ok, found}
      {:error, _reason} = error -> error
      other -> {:error, {:unexpected_result, module, :load_many, other}}
    end
  end

  def load(%__MODULE__{mode: :key_by_key} = persistence, type, ids) do
    Enum.reduce_while(ids, {:ok, %{}}, fn id, {:ok, found} ->
      case call(persistence, :load_keys, [type, id]) do
        {:ok, value} -> {:cont, {:ok, Map.put(found, id, value)}}
        {:error, :not_found} -> {:cont, {:ok, found}}
        {:error, _reason} = error -> {:halt, error}
        other -> {:halt, {:error, {:unexpected_result, persistence.module, :load_keys, other}}}
      end
    end)
  end

  @doc """
  Writes `changes`. Atomic: `:ok` or `{:error, reason, [], nil}` with
  nothing written. Key by key: on a failure, the `{type, id}` keys written
  before it (with their values) and the key that failed.
  """
  @spec commit(t(), changes()) ::
          :ok | {:error, term(), [{{term(), term()}, term()}], {term(), term()} | nil}
  def commit(%__MODULE__{mode: :atomic, module: module, context: context}, changes) do
    case module.commit(context, changes) do
      :ok -> :ok
      {:error, reason} -> {:error, reason, [], nil}
      other -> {:error, {:unexpected_result, module, :commit, other}, [], nil}
    end
  end

  def commit(%__MODULE__{mode: :key_by_key} = persistence, changes) do
    changes
    |> Enum.flat_map(fn {type, entries} ->
      Enum.map(entries, fn {id, v} -> {{type, id}, v} end)
    end)
    |> Enum.reduce_while([], fn {{type, id} = key, value} = change, written ->
      case write_one(persistence, type, id, value) do
        :ok ->
          {:cont, [change | written]}

        {:error, reason} ->
          {:halt, {:error, reason, Enum.reverse(written), key}}

        other ->
          {:halt, {:error, unexpected(persistence, value, other), Enum.reverse(written), key}}
      end
    end)
    |> case do
      written when is_list(written) -> :ok
      error -> error
    end
  end

  defp write_one(persistence, type, id, nil), do: call(persistence, :delete_keys, [type, id])

  defp write_one(persistence, type, id, value),
    do: call(persistence, :save_keys, [type, id, value])

  defp unexpected(persistence, nil, other),
    do: {:unexpected_result, persistence.module, :delete_keys, other}

  defp unexpected(persistence, _value, other),
    do: {:unexpected_result, persistence.module, :save_keys, other}

  @doc """
  Lists every persisted key id by type, or `:unsupported` when the module
  exports no `list_persisted_keys` it can be called with.
  """
  @spec list(t()) :: {:ok, %{optional(term()) => list()}} | {:error, term()} | :unsupported
  def list(%__MODULE__{} = persistence) do
    case call(persistence, :list_persisted_keys, []) do
      {:ok, listed} when is_map(listed) -> {:ok, listed}
      {:error, {:unsupported_persistence_operation, _module, _fun}} -> :unsupported
      {:error, _reason} = error -> error
      other -> {:error, {:unexpected_result, persistence.module, :list_persisted_keys, other}}
    end
  end

  # The widest arity the module exports, as BaileysEx's own store picks it.
  defp call(%__MODULE__{module: module, context: context}, fun, args) do
    arity = length(args)

    cond do
      context != nil and function_exported?(module, fun, arity + 1) ->
        apply(module, fun, [context | args])

      function_exported?(module, fun, arity) ->
        apply(module, fun, args)

      true ->
        {:error, {:unsupported_persistence_operation, module, fun}}
    end
  end
end
