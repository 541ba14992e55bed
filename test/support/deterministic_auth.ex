defmodule BaileysEx.Auth.NIF.Test.DeterministicAuth do
  @moduledoc """
  Builds fully populated, reproducible `%BaileysEx.Auth.State{}` values for
  tests: the same seed always gives the same state.

  Key pairs are X25519 pairs whose private key is `seed + n` as a 256-bit
  big-endian integer (noise `+0`, pairing ephemeral `+1`, identity `+2`,
  signed pre-key `+4` with key id `seed + 3`); the registration id is
  `seed + 1000`. The state is registered and carries an account, `me`, signal
  identities, processed history messages and the other optional fields.
  """

  alias BaileysEx.Auth.State

  @doc """
  Returns the deterministic state for `seed`; fields in `overrides` replace
  the generated ones.
  """
  @spec state(non_neg_integer(), map()) :: State.t()
  def state(seed \\ 1, overrides \\ %{})
      when is_integer(seed) and seed >= 0 and is_map(overrides) do
    identity = x25519_key_pair(seed + 2)
    pre_key_pair = x25519_key_pair(seed + 4)

    base = %State{
      noise_key: x25519_key_pair(seed),
      pairing_ephemeral_key: x25519_key_pair(seed + 1),
      signed_identity_key: identity,
      signed_pre_key: %{
        key_pair: pre_key_pair,
        key_id: seed + 3,
        signature: :crypto.mac(:hmac, :sha512, identity.private, pre_key_pair.public)
      },
      registration_id: seed + 1000,
      adv_secret_key: Base.encode64(fixed_bytes(32, seed + 5)),
      account: %BaileysEx.Protocol.Proto.ADVSignedDeviceIdentity{
        details: bytes(seed, "details", 48),
        account_signature_key: bytes(seed, "account_signature_key", 32),
        account_signature: bytes(seed, "account_signature", 64),
        device_signature: bytes(seed, "device_signature", 64)
      },
      me: %{
        id: "1555#{seed}:12@s.whatsapp.net",
        lid: "9#{seed}:12@lid",
        name: "Seed #{seed} ✓"
      },
      signal_identities: [
        %{
          identifier: %{name: "9#{seed}:12@lid", device_id: 0},
          identifier_key: <<5>> <> identity.public
        }
      ],
      processed_history_messages: [
        %{
          key: %{
            remote_jid: "1444#{seed}@s.whatsapp.net",
            from_me: false,
            id: "3EB0" <> Base.encode16(bytes(seed, "msg", 8)),
            participant: nil,
            addressing_mode: :pn
          },
          message_timestamp: 1_710_000_000 + seed
        }
      ],
      platform: "smba",
      last_account_sync_timestamp: 1_710_000_500 + seed,
      account_sync_counter: 1,
      account_settings: %{unarchive_chats: true, default_disappearing_mode: nil},
      registered: true,
      pairing_code: nil,
      last_prop_hash: "hash#{seed}",
      routing_info: bytes(seed, "routing_info", 24),
      my_app_state_key_id: "AAAAAJ0x",
      additional_data: %{"seed" => seed},
      first_unuploaded_pre_key_id: 31,
      next_pre_key_id: 31
    }

    Enum.reduce(overrides, base, fn {key, value}, acc -> Map.replace!(acc, key, value) end)
  end

  @doc "Returns the X25519 key pair whose private key is `n` as 32 big-endian bytes."
  @spec x25519_key_pair(non_neg_integer()) :: %{public: binary(), private: binary()}
  def x25519_key_pair(n) do
    {public, private} = :crypto.generate_key(:ecdh, :x25519, <<n::unsigned-big-256>>)
    %{public: public, private: private}
  end

  @doc "Returns `size` copies of the byte `rem(value, 256)`."
  @spec fixed_bytes(non_neg_integer(), integer()) :: binary()
  def fixed_bytes(size, value), do: :binary.copy(<<rem(value, 256)>>, size)

  @doc "Returns `size` (at most 64) pseudo-random bytes derived from `seed` and `label`."
  @spec bytes(integer(), binary(), 0..64) :: binary()
  def bytes(seed, label, size) when size in 0..64 do
    binary_part(:crypto.hash(:sha512, [Integer.to_string(seed), 0, label]), 0, size)
  end
end
