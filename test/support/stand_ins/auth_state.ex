unless Code.ensure_loaded?(BaileysEx.Auth.State) do
  defmodule BaileysEx.Auth.State do
    @moduledoc """
    Test stand-in for `BaileysEx.Auth.State`, compiled only when the real
    `baileys_ex` package is not available.

    The struct has the same fields, defaults and declaration order as the
    original so that terms written by the real library (and the fixtures) load
    into it unchanged. Key pairs are real X25519 pairs; the signed pre-key
    signature is a deterministic HMAC-SHA512 placeholder because XEdDSA is not
    available here.
    """

    @typedoc "An X25519 key pair."
    @type key_pair :: %{public: binary(), private: binary()}

    @typedoc "A signed pre-key: key pair, id and a 64-byte signature."
    @type signed_key_pair :: %{
            key_pair: key_pair(),
            key_id: non_neg_integer(),
            signature: binary()
          }

    @type t :: %__MODULE__{
            account: map() | nil,
            additional_data: term() | nil,
            last_account_sync_timestamp: integer() | nil,
            last_prop_hash: binary() | nil,
            me: map() | nil,
            my_app_state_key_id: binary() | nil,
            pairing_code: binary() | nil,
            platform: binary() | nil,
            routing_info: binary() | nil,
            noise_key: key_pair() | nil,
            pairing_ephemeral_key: key_pair() | nil,
            signed_identity_key: key_pair() | nil,
            signed_pre_key: signed_key_pair() | nil,
            registration_id: non_neg_integer(),
            adv_secret_key: binary() | nil,
            signal_identities: [map()],
            processed_history_messages: [map()],
            account_sync_counter: non_neg_integer(),
            account_settings: map(),
            registered: boolean(),
            first_unuploaded_pre_key_id: pos_integer(),
            next_pre_key_id: pos_integer()
          }

    defstruct [
      :account,
      :additional_data,
      :last_account_sync_timestamp,
      :last_prop_hash,
      :me,
      :my_app_state_key_id,
      :pairing_code,
      :platform,
      :routing_info,
      noise_key: nil,
      pairing_ephemeral_key: nil,
      signed_identity_key: nil,
      signed_pre_key: nil,
      registration_id: 0,
      adv_secret_key: nil,
      signal_identities: [],
      processed_history_messages: [],
      account_sync_counter: 0,
      account_settings: %{unarchive_chats: false, default_disappearing_mode: nil},
      registered: false,
      first_unuploaded_pre_key_id: 1,
      next_pre_key_id: 1
    ]

    @doc """
    Builds a fresh, unregistered auth state.

    Every key option (`:noise_key`, `:pairing_ephemeral_key`,
    `:signed_identity_key`, `:signed_pre_key`, `:registration_id`,
    `:adv_secret_key`) is taken from `opts` when given and generated otherwise.
    """
    @spec new(keyword()) :: t()
    def new(opts \\ []) when is_list(opts) do
      identity = Keyword.get_lazy(opts, :signed_identity_key, &key_pair/0)

      %__MODULE__{
        noise_key: Keyword.get_lazy(opts, :noise_key, &key_pair/0),
        pairing_ephemeral_key: Keyword.get_lazy(opts, :pairing_ephemeral_key, &key_pair/0),
        signed_identity_key: identity,
        signed_pre_key:
          Keyword.get_lazy(opts, :signed_pre_key, fn -> signed_key_pair(identity, 1) end),
        registration_id: Keyword.get_lazy(opts, :registration_id, &registration_id/0),
        adv_secret_key:
          Keyword.get_lazy(opts, :adv_secret_key, fn ->
            Base.encode64(:crypto.strong_rand_bytes(32))
          end)
      }
    end

    @doc """
    Returns the credentials view of a state: the nested `:creds` map when the
    argument has one, the struct's fields for a `%State{}`, the map itself for
    any other map and an empty map otherwise.
    """
    @spec creds_view(term()) :: map()
    def creds_view(%{creds: creds}) when is_map(creds), do: creds
    def creds_view(%__MODULE__{} = state), do: Map.from_struct(state)
    def creds_view(%{} = state), do: state
    def creds_view(_other), do: %{}

    @doc """
    Generates a random X25519 key pair as `%{public: pub, private: priv}`.
    """
    @spec key_pair() :: key_pair()
    def key_pair do
      {public, private} = :crypto.generate_key(:ecdh, :x25519)
      %{public: public, private: private}
    end

    @doc """
    Builds a signed pre-key for `identity` with a fresh key pair (or the one
    given as `key_pair`). The signature is HMAC-SHA512 of the public key keyed
    with the identity private key: deterministic, 64 bytes, not real XEdDSA.
    """
    @spec signed_key_pair(key_pair(), non_neg_integer(), key_pair() | nil) :: signed_key_pair()
    def signed_key_pair(%{private: identity_private}, key_id, pair \\ nil) do
      pair = pair || key_pair()
      signature = :crypto.mac(:hmac, :sha512, identity_private, pair.public)
      %{key_pair: pair, key_id: key_id, signature: signature}
    end

    defp registration_id do
      <<id::unsigned-big-16>> = :crypto.strong_rand_bytes(2)
      Bitwise.band(id, 0x3FFF)
    end
  end
end
