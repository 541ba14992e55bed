defmodule BaileysEx.Auth.NIF.KeyStore.TxRef do
  @moduledoc """
  The handle a `BaileysEx.Auth.NIF.KeyStore.transaction/3` callback
  receives: the store's handle and the transaction's private buffer of
  reads and writes. Valid only in the process running the transaction and
  only until it returns; never build one yourself.
  """

  alias BaileysEx.Auth.NIF.KeyStore.Ref

  @enforce_keys [:ref, :buffer]
  defstruct [:ref, :buffer]

  @typedoc "A transaction-scoped key store handle."
  @type t :: %__MODULE__{ref: Ref.t(), buffer: :ets.tid()}
end
