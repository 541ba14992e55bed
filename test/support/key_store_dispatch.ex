defmodule BaileysEx.Auth.NIF.Test.KeyStoreDispatch do
  @moduledoc """
  Calls a persistence module the way `BaileysEx.Auth.KeyStore` does: the
  context-aware (one wider) arity when a context is configured and the module
  exports it, else the context-free arity, else an
  `{:unsupported_persistence_operation, module, fun}` error.
  """

  @doc """
  Dispatches `fun` with `args` to `module`, prepending `context` when the
  context-aware arity applies.
  """
  @spec call(module(), term(), atom(), [term()]) :: term()
  def call(module, context, fun, args) when is_atom(module) and is_atom(fun) and is_list(args) do
    Code.ensure_loaded(module)
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
