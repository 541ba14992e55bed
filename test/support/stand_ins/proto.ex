unless Code.ensure_loaded?(BaileysEx.Protocol.Proto.ADVSignedDeviceIdentity) do
  defmodule BaileysEx.Protocol.Proto.ADVSignedDeviceIdentity do
    @moduledoc """
    Test stand-in for the `ADVSignedDeviceIdentity` protobuf struct stored in
    `State.account`. Compiled only without the real library.
    """

    @type t :: %__MODULE__{
            details: binary() | nil,
            account_signature_key: binary() | nil,
            account_signature: binary() | nil,
            device_signature: binary() | nil
          }

    defstruct details: nil,
              account_signature_key: nil,
              account_signature: nil,
              device_signature: nil
  end
end

unless Code.ensure_loaded?(BaileysEx.Protocol.Proto.MessageKey) do
  defmodule BaileysEx.Protocol.Proto.MessageKey do
    @moduledoc """
    Test stand-in for the `MessageKey` protobuf struct. Compiled only without
    the real library.
    """

    @type t :: %__MODULE__{
            remote_jid: String.t() | nil,
            from_me: boolean() | nil,
            id: String.t() | nil,
            participant: String.t() | nil
          }

    defstruct remote_jid: nil, from_me: nil, id: nil, participant: nil
  end
end
