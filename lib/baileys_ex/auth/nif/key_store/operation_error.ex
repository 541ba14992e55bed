defmodule BaileysEx.Auth.NIF.KeyStore.OperationError do
  @moduledoc """
  Raised in the caller when the persistence module fails a key store
  operation. `action` is `:get`, `:set`, `:clear` or `:transaction` (a
  transaction's commit); `reason` is what the persistence module returned
  in `{:error, reason}`. The same fields as `BaileysEx.Auth.KeyStore`'s
  exception.
  """

  defexception [:action, :reason]

  @typedoc "A failed key store operation."
  @type t :: %__MODULE__{action: :get | :set | :clear | :transaction, reason: term()}

  @impl true
  def message(%__MODULE__{action: action, reason: reason}) do
    "key store #{action} failed: #{inspect(reason)}"
  end
end
