unless Code.ensure_loaded?(BaileysEx.Signal.Store) do
  defmodule BaileysEx.Signal.Store do
    @moduledoc """
    Test stand-in for `BaileysEx.Signal.Store`: the behaviour a Signal key
    store implements and the struct that wraps a running one. Calls are
    handed to the store module as the real one hands them; a transaction's
    callback receives a wrapped transaction handle. The real default module
    (its in-memory store) is not part of the stand-in, so `:module` is
    required. Compiled only without the real library.
    """

    @enforce_keys [:module, :ref]
    defstruct [:module, :ref]

    @typedoc "A store module and its handle."
    @type t :: %__MODULE__{module: module(), ref: term()}

    @callback start_link(keyword()) :: {:ok, pid()} | :ignore | {:error, term()}
    @callback wrap(term()) :: term()
    @callback get(term(), atom(), [String.t()]) :: map()
    @callback set(term(), map()) :: :ok
    @callback clear(term()) :: :ok
    @callback transaction(term(), String.t(), (term() -> result)) :: result when result: var
    @callback in_transaction?(term()) :: boolean()

    @doc "Starts `opts[:module]` with the other options and wraps the process it returns."
    @spec start_link(keyword()) :: {:ok, t()} | :ignore | {:error, term()}
    def start_link(opts) when is_list(opts) do
      {module, opts} = Keyword.pop!(opts, :module)

      case module.start_link(opts) do
        {:ok, pid} -> {:ok, %__MODULE__{module: module, ref: module.wrap(pid)}}
        other -> other
      end
    end

    @doc "The entries of `ids` of `type` that exist."
    @spec get(t(), atom(), [String.t()]) :: map()
    def get(%__MODULE__{module: module, ref: ref}, type, ids), do: module.get(ref, type, ids)

    @doc "Writes `data` (`nil` values delete)."
    @spec set(t(), map()) :: :ok
    def set(%__MODULE__{module: module, ref: ref}, data), do: module.set(ref, data)

    @doc "Removes every key."
    @spec clear(t()) :: :ok
    def clear(%__MODULE__{module: module, ref: ref}), do: module.clear(ref)

    @doc "Runs `fun` with a wrapped transaction handle, serialised on `key`."
    @spec transaction(t(), String.t(), (t() -> result)) :: result when result: var
    def transaction(%__MODULE__{module: module, ref: ref}, key, fun) when is_function(fun, 1) do
      module.transaction(ref, key, fn tx_ref -> fun.(%__MODULE__{module: module, ref: tx_ref}) end)
    end

    @doc "True for a transaction's handle."
    @spec in_transaction?(t()) :: boolean()
    def in_transaction?(%__MODULE__{module: module, ref: ref}), do: module.in_transaction?(ref)

    @doc """
    Wraps a running store given as `{module, server}` (nil when the server is
    not running or the module has no `wrap/1`), or returns a wrapped store as
    it is.
    """
    @spec wrap_running(t() | {module(), GenServer.server()} | nil) :: t() | nil
    def wrap_running(nil), do: nil
    def wrap_running(%__MODULE__{} = store), do: store

    def wrap_running({module, server}) when is_atom(module) do
      pid = GenServer.whereis(server)

      if is_pid(pid) and function_exported?(module, :wrap, 1),
        do: %__MODULE__{module: module, ref: module.wrap(pid)},
        else: nil
    end
  end
end
