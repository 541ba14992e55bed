defmodule BaileysEx.Auth.NIF.KeyStore.Ref do
  @moduledoc """
  The handle `BaileysEx.Auth.NIF.KeyStore.wrap/1` returns: everything a
  caller needs to read and write the store from its own process (the cache
  table, the lock processes, the persistence module). Opaque to users.
  """

  alias BaileysEx.Auth.NIF.KeyStore.Locks
  alias BaileysEx.Auth.NIF.KeyStore.Persistence

  @enforce_keys [:pid, :cache, :locks, :persistence]
  defstruct [:pid, :cache, :locks, :persistence]

  @typedoc "A key store handle."
  @type t :: %__MODULE__{
          pid: pid(),
          cache: :ets.tid(),
          locks: Locks.t(),
          persistence: Persistence.t()
        }
end
