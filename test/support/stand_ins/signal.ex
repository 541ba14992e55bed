unless Code.ensure_loaded?(BaileysEx.Signal.SessionRecord) do
  defmodule BaileysEx.Signal.SessionRecord do
    @moduledoc """
    Test stand-in for `BaileysEx.Signal.SessionRecord`: a map of Signal
    sessions keyed by base key. Compiled only without the real library.
    """

    @type t :: %__MODULE__{sessions: %{optional(binary()) => map()}}

    @enforce_keys [:sessions]
    defstruct [:sessions]

    @doc "Returns an empty record."
    @spec new() :: t()
    def new, do: %__MODULE__{sessions: %{}}

    @doc "Stores `session` under `base_key`, replacing any previous one."
    @spec put_session(t(), binary(), map()) :: t()
    def put_session(%__MODULE__{sessions: sessions} = record, base_key, session) do
      %{record | sessions: Map.put(sessions, base_key, session)}
    end
  end
end

unless Code.ensure_loaded?(BaileysEx.Signal.Group.SenderChainKey) do
  defmodule BaileysEx.Signal.Group.SenderChainKey do
    @moduledoc """
    Test stand-in for `BaileysEx.Signal.Group.SenderChainKey` (iteration and
    seed of a sender-key chain). Compiled only without the real library.
    """

    @type t :: %__MODULE__{iteration: non_neg_integer(), seed: binary()}

    @enforce_keys [:iteration, :seed]
    defstruct [:iteration, :seed]

    @doc "Builds a chain key."
    @spec new(non_neg_integer(), binary()) :: t()
    def new(iteration, seed), do: %__MODULE__{iteration: iteration, seed: seed}
  end
end

unless Code.ensure_loaded?(BaileysEx.Signal.Group.SenderMessageKey) do
  defmodule BaileysEx.Signal.Group.SenderMessageKey do
    @moduledoc """
    Test stand-in for `BaileysEx.Signal.Group.SenderMessageKey`. The `iv` and
    `cipher_key` are derived from the seed with HKDF-SHA256 (zero salt, info
    "WhisperGroup", 48 bytes: 16 iv then 32 key). Compiled only without the
    real library.
    """

    @type t :: %__MODULE__{
            iteration: non_neg_integer(),
            iv: binary(),
            cipher_key: binary(),
            seed: binary()
          }

    @enforce_keys [:iteration, :iv, :cipher_key, :seed]
    defstruct [:iteration, :iv, :cipher_key, :seed]

    @doc "Derives a message key from `seed`."
    @spec new(non_neg_integer(), binary()) :: t()
    def new(iteration, seed) do
      <<iv::binary-size(16), cipher_key::binary-size(32)>> = hkdf(seed, "WhisperGroup", 48)
      %__MODULE__{iteration: iteration, iv: iv, cipher_key: cipher_key, seed: seed}
    end

    defp hkdf(ikm, info, length) do
      prk = :crypto.mac(:hmac, :sha256, <<0::256>>, ikm)

      {okm, _} =
        Enum.reduce(1..div(length + 31, 32), {<<>>, <<>>}, fn i, {acc, prev} ->
          block = :crypto.mac(:hmac, :sha256, prk, [prev, info, <<i>>])
          {acc <> block, block}
        end)

      binary_part(okm, 0, length)
    end
  end
end

unless Code.ensure_loaded?(BaileysEx.Signal.Group.SenderKeyState) do
  defmodule BaileysEx.Signal.Group.SenderKeyState do
    @moduledoc """
    Test stand-in for `BaileysEx.Signal.Group.SenderKeyState`. Compiled only
    without the real library.
    """

    alias BaileysEx.Signal.Group.SenderChainKey
    alias BaileysEx.Signal.Group.SenderMessageKey

    @type t :: %__MODULE__{
            sender_key_id: non_neg_integer(),
            sender_chain_key: SenderChainKey.t(),
            sender_signing_key: %{public: binary(), private: binary() | nil},
            sender_message_keys: [SenderMessageKey.t()]
          }

    @enforce_keys [:sender_key_id, :sender_chain_key, :sender_signing_key, :sender_message_keys]
    defstruct [:sender_key_id, :sender_chain_key, :sender_signing_key, :sender_message_keys]

    @doc "Builds a state with no stored message keys."
    @spec new(non_neg_integer(), non_neg_integer(), binary(), map()) :: t()
    def new(id, iteration, chain_key, signing_key) do
      %__MODULE__{
        sender_key_id: id,
        sender_chain_key: SenderChainKey.new(iteration, chain_key),
        sender_signing_key: %{public: signing_key.public, private: signing_key[:private]},
        sender_message_keys: []
      }
    end
  end
end

unless Code.ensure_loaded?(BaileysEx.Signal.Group.SenderKeyRecord) do
  defmodule BaileysEx.Signal.Group.SenderKeyRecord do
    @moduledoc """
    Test stand-in for `BaileysEx.Signal.Group.SenderKeyRecord`, a bounded list
    of sender-key states. Compiled only without the real library.
    """

    alias BaileysEx.Signal.Group.SenderKeyState

    @max_states 5

    @type t :: %__MODULE__{sender_key_states: [SenderKeyState.t()]}

    @enforce_keys [:sender_key_states]
    defstruct [:sender_key_states]

    @doc "Returns an empty record."
    @spec new() :: t()
    def new, do: %__MODULE__{sender_key_states: []}

    @doc """
    Appends a state built from a public signing key (no private part), keeping
    at most #{@max_states} states (the oldest are dropped).
    """
    @spec add_state(t(), non_neg_integer(), non_neg_integer(), binary(), binary()) :: t()
    def add_state(%__MODULE__{sender_key_states: states} = record, id, iteration, chain_key, key) do
      state = SenderKeyState.new(id, iteration, chain_key, %{public: key, private: nil})
      %{record | sender_key_states: Enum.take(states ++ [state], -@max_states)}
    end
  end
end
