defmodule BaileysEx.Auth.NIF.Test.CommitStandIn do
  @moduledoc """
  TEST STAND-IN for the drop-ins' atomic API (`commit/2`, `load_many/3`)
  while a drop-in does not export it yet: a persistence module per backend
  that passes every call to the drop-in and implements the two functions on
  top of its `save_keys/4`, `delete_keys/3` and `load_keys/3`.

  It is NOT atomic: `commit/2` checks every type and id first, then writes
  key by key and stops at the first failure. It exists so that the native
  path of `BaileysEx.Auth.NIF.KeyStore` runs in tests; `module_for/1` picks
  the drop-in itself once it exports the real functions.
  """

  alias BaileysEx.Auth.NIF.Common
  alias BaileysEx.Auth.NIF.Test.Backends

  @doc """
  The module with `commit/2` and `load_many/3` for `backend`: the drop-in
  when it exports both, else its stand-in.
  """
  @spec module_for(Backends.t()) :: module()
  def module_for(%Backends{module: module, name: name}) do
    Code.ensure_loaded(module)

    if function_exported?(module, :commit, 2) and function_exported?(module, :load_many, 3),
      do: module,
      else: stand_in(name)
  end

  @doc "The stand-in module of the backend named `name`."
  @spec stand_in(:etf | :json) :: module()
  def stand_in(:etf), do: __MODULE__.NativeFilePersistence
  def stand_in(:json), do: __MODULE__.FilePersistence

  @doc "Loads `ids` of `type` one by one from `module`: the ids found, keyed as given."
  @spec load_many(module(), term(), atom(), list()) :: {:ok, map()} | {:error, term()}
  def load_many(module, context, type, ids) when is_list(ids) do
    Enum.reduce_while(ids, {:ok, %{}}, fn id, {:ok, found} ->
      case module.load_keys(context, type, id) do
        {:ok, value} -> {:cont, {:ok, Map.put(found, id, value)}}
        {:error, :not_found} -> {:cont, {:ok, found}}
        {:error, _reason} = error -> {:halt, error}
      end
    end)
  end

  @doc """
  Checks every type (an atom) and id (printable), then saves and deletes
  key by key through `module`, stopping at the first failure.
  """
  @spec commit(module(), term(), map()) :: :ok | {:error, term()}
  def commit(module, context, changes) when is_map(changes) do
    entries = for {type, ids} <- changes, is_map(ids), {id, value} <- ids, do: {type, id, value}

    with :ok <- check(changes, entries) do
      Enum.reduce_while(entries, :ok, fn {type, id, value}, :ok ->
        case write(module, context, type, id, value) do
          :ok -> {:cont, :ok}
          error -> {:halt, error}
        end
      end)
    end
  end

  def commit(_module, _context, changes), do: {:error, {:invalid_changes, changes}}

  defp check(changes, entries) do
    cond do
      bad = Enum.find(changes, fn {type, ids} -> not is_atom(type) or not is_map(ids) end) ->
        {:error, {:invalid_changes, bad}}

      bad =
          Enum.find(entries, fn {_type, id, _value} -> match?({:error, _}, Common.key_id(id)) end) ->
        {:error, {:invalid_key_id, elem(bad, 1)}}

      true ->
        :ok
    end
  end

  defp write(module, context, type, id, nil), do: module.delete_keys(context, type, id)
  defp write(module, context, type, id, value), do: module.save_keys(context, type, id, value)

  for {name, drop_in} <- [
        NativeFilePersistence: BaileysEx.Auth.NIF.NativeFilePersistence,
        FilePersistence: BaileysEx.Auth.NIF.FilePersistence
      ] do
    defmodule Module.concat(__MODULE__, name) do
      @moduledoc """
      TEST STAND-IN: `#{inspect(drop_in)}` with `commit/2` and `load_many/3`
      built on its key-by-key calls (not atomic). See
      `BaileysEx.Auth.NIF.Test.CommitStandIn`.
      """

      alias BaileysEx.Auth.NIF.Test.CommitStandIn

      @drop_in drop_in

      @doc "Passed to the drop-in."
      @spec load_keys(term(), atom(), term()) :: {:ok, term()} | {:error, term()}
      defdelegate load_keys(context, type, id), to: @drop_in

      @doc "Passed to the drop-in."
      @spec save_keys(term(), atom(), term(), term()) :: :ok | {:error, term()}
      defdelegate save_keys(context, type, id, value), to: @drop_in

      @doc "Passed to the drop-in."
      @spec delete_keys(term(), atom(), term()) :: :ok | {:error, term()}
      defdelegate delete_keys(context, type, id), to: @drop_in

      @doc "Passed to the drop-in."
      @spec list_persisted_keys(term()) :: {:ok, map()} | {:error, term()}
      defdelegate list_persisted_keys(context), to: @drop_in

      @doc "Passed to the drop-in."
      @spec load_credentials(term()) :: {:ok, struct()} | {:error, term()}
      defdelegate load_credentials(context), to: @drop_in

      @doc "Passed to the drop-in."
      @spec save_credentials(term(), struct()) :: :ok | {:error, term()}
      defdelegate save_credentials(context, state), to: @drop_in

      @doc "Loads `ids` one by one (see `BaileysEx.Auth.NIF.Test.CommitStandIn.load_many/4`)."
      @spec load_many(term(), atom(), list()) :: {:ok, map()} | {:error, term()}
      def load_many(context, type, ids), do: CommitStandIn.load_many(@drop_in, context, type, ids)

      @doc "Writes key by key (see `BaileysEx.Auth.NIF.Test.CommitStandIn.commit/3`)."
      @spec commit(term(), map()) :: :ok | {:error, term()}
      def commit(context, changes), do: CommitStandIn.commit(@drop_in, context, changes)
    end
  end
end
