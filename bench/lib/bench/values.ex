defmodule BaileysEx.Auth.NIF.Bench.Values do
  @moduledoc """
  Deterministic values of the shapes BaileysEx persists: pre-keys, Signal
  session records (typical, or large with thousands of skipped message
  keys), sender-key records, sender-key memories and credentials.

  Records are built with `struct!/2`, so they work with the real BaileysEx
  structs as well as with the test stand-ins.
  """

  alias BaileysEx.Auth.NIF.Test.DeterministicAuth

  @session_record BaileysEx.Signal.SessionRecord
  @sender_key_record BaileysEx.Signal.Group.SenderKeyRecord
  @sender_key_state BaileysEx.Signal.Group.SenderKeyState
  @sender_chain_key BaileysEx.Signal.Group.SenderChainKey

  @doc "32 pseudo-random bytes derived from `seed` and `label`."
  @spec bytes32(term(), term()) :: binary()
  def bytes32(seed, label), do: :crypto.hash(:sha256, :erlang.term_to_binary({seed, label}))

  @doc "A pre-key pair: `%{public: 32 bytes, private: 32 bytes}`."
  @spec pre_key(integer()) :: %{public: binary(), private: binary()}
  def pre_key(id), do: %{public: bytes32(id, :public), private: bytes32(id, :private)}

  @doc """
  A session record with one session whose receiving chain holds
  `message_keys` skipped message keys (indexes `0..message_keys-1`, 32 bytes
  each) and whose chain counter is `counter`.
  """
  @spec session_record(integer(), non_neg_integer(), non_neg_integer()) :: struct()
  def session_record(seed, message_keys, counter \\ 0) do
    base_key = <<5>> <> bytes32(seed, :base_key)
    chain_id = <<5>> <> bytes32(seed, :chain)
    chain_key = bytes32(seed, :chain_key)
    keys = Map.new(0..(message_keys - 1)//1, &{&1, bytes32(seed, {:message_key, &1})})

    session = %{
      current_ratchet: %{
        root_key: bytes32(seed, :root_key),
        ephemeral_key_pair: %{
          public: <<5>> <> bytes32(seed, :ephemeral_public),
          private: bytes32(seed, :ephemeral_private)
        },
        last_remote_ephemeral: chain_id,
        previous_counter: 0
      },
      index_info: %{
        remote_identity_key: <<5>> <> bytes32(seed, :remote_identity),
        local_identity_key: <<5>> <> bytes32(0, :local_identity),
        base_key: base_key,
        base_key_type: :receiving,
        closed: -1
      },
      chains: %{
        chain_id => %{
          chain_key: %{counter: counter, key: chain_key},
          chain_type: :receiving,
          message_keys: keys
        }
      },
      pending_pre_key: nil,
      registration_id: rem(seed, 16_380) + 1
    }

    struct!(@session_record, sessions: %{base_key => session})
  end

  @doc """
  The same record with its chain counter and chain key advanced to `counter`,
  as after one more message.
  """
  @spec advance_session(struct(), non_neg_integer()) :: struct()
  def advance_session(record, counter) do
    sessions =
      Map.new(record.sessions, fn {base_key, session} ->
        chains =
          Map.new(session.chains, fn {chain_id, chain} ->
            key = bytes32(counter, chain.chain_key.key)
            {chain_id, %{chain | chain_key: %{counter: counter, key: key}}}
          end)

        {base_key, %{session | chains: chains}}
      end)

    %{record | sessions: sessions}
  end

  @doc "A sender-key record with one state (no stored message keys)."
  @spec sender_key_record(integer()) :: struct()
  def sender_key_record(seed) do
    state =
      struct!(@sender_key_state,
        sender_key_id: rem(seed, 2_147_483_647),
        sender_chain_key: struct!(@sender_chain_key, iteration: 0, seed: bytes32(seed, :chain)),
        sender_signing_key: %{public: <<5>> <> bytes32(seed, :signing), private: nil},
        sender_message_keys: []
      )

    struct!(@sender_key_record, sender_key_states: [state])
  end

  @doc "A sender-key memory: which members of a group already got our sender key."
  @spec sender_key_memory([String.t()]) :: %{String.t() => boolean()}
  def sender_key_memory(members), do: Map.new(members, &{&1, true})

  @doc "Fully populated credentials (`BaileysEx.Auth.State`) for `seed`."
  @spec credentials(non_neg_integer()) :: struct()
  def credentials(seed), do: DeterministicAuth.state(seed)
end
