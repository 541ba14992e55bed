defmodule BaileysEx.Auth.NIF.Test.Parity do
  @moduledoc """
  What the parity suite runs against: every implementation of the two file
  backends present in this VM (ours, the pure-Elixir baselines and, when the
  `baileys_ex` package is installed, the real BaileysEx modules; see
  `BaileysEx.Auth.NIF.Test.Backends`), how each backend kind encodes its
  files, and realistic sample values for every persisted key type.

  An implementation is `{module, kind, helper}`: `kind` is `:etf` or `:json`,
  `helper` the name of its `use_*_auth_state/1` function.
  """

  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.Baseline.KeyIndex
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.State
  alias BaileysEx.Signal.Group.SenderChainKey
  alias BaileysEx.Signal.Group.SenderKeyRecord
  alias BaileysEx.Signal.Group.SenderKeyState
  alias BaileysEx.Signal.Group.SenderMessageKey
  alias BaileysEx.Signal.SessionRecord

  @typedoc "An implementation under test."
  @type implementation :: {module(), :etf | :json, atom()}

  @doc "Every implementation loaded in this VM, ours first (see `Backends.implementations/1`)."
  @spec implementations() :: [implementation()]
  def implementations do
    for backend <- Backends.all(), module <- Backends.implementations(backend) do
      {module, backend.name, backend.helper}
    end
  end

  @doc "Every pair `{a, b}` of distinct implementations of the same kind (each pair once)."
  @spec pairs() :: [{implementation(), implementation()}]
  def pairs do
    impls = implementations()

    for {a, i} <- Enum.with_index(impls),
        {b, j} <- Enum.with_index(impls),
        i < j,
        elem(a, 1) == elem(b, 1),
        do: {a, b}
  end

  @doc "The ten key types that are indexed and listed."
  @spec persisted_types() :: [atom()]
  defdelegate persisted_types, to: KeyIndex

  @doc "Sanitised file name of a key: `<type>-<id><ext>`, `/` -> `__`, then `:` -> `-`."
  @spec key_file(:etf | :json, atom(), term()) :: String.t()
  def key_file(kind, type, id) do
    "#{type}-#{id}#{Backends.fetch!(kind).ext}"
    |> String.replace("/", "__")
    |> String.replace(":", "-")
  end

  @doc "Decodes a manifest file of either kind into its map."
  @spec read_manifest(:etf | :json, Path.t()) :: term()
  def read_manifest(kind, dir) do
    path = Path.join(dir, Backends.fetch!(kind).manifest_file)

    case kind do
      :etf -> path |> File.read!() |> :erlang.binary_to_term()
      :json -> decode_json_file!(path)
    end
  end

  @doc "Encodes a manifest (any term, to test refusals) the way a backend of `kind` stores it."
  @spec encode_manifest(:etf | :json, term()) :: binary()
  def encode_manifest(:etf, manifest), do: :erlang.term_to_binary(manifest)
  def encode_manifest(:json, manifest), do: JSONCodec.encode!(manifest)

  @doc "Decodes the JSON file at `path` (objects as string-keyed maps)."
  @spec decode_json_file!(Path.t()) :: term()
  def decode_json_file!(path) do
    {:ok, decoded} = path |> File.read!() |> JSONCodec.decode()
    decoded
  end

  @doc """
  Applies operations in the fixture format (`{:creds, state}`,
  `{:save, type, id, value, note}`, `{:delete, type, id, note}`) to `dir`
  with `module`, or with the modules of `modules` in turn. Returns the
  results that were not `:ok`, so callers can assert `== []`.
  """
  @spec replay(module() | [module()], Path.t(), [tuple()]) :: [{tuple(), term()}]
  def replay(module, dir, ops) when is_atom(module), do: replay([module], dir, ops)

  def replay(modules, dir, ops) when is_list(modules) do
    ops
    |> Enum.with_index()
    |> Enum.flat_map(fn {op, index} ->
      module = Enum.at(modules, rem(index, length(modules)))

      result =
        case op do
          {:creds, state} -> module.save_credentials(dir, state)
          {:save, type, id, value, _note} -> module.save_keys(dir, type, id, value)
          {:delete, type, id, _note} -> module.delete_keys(dir, type, id)
        end

      if result == :ok, do: [], else: [{op, result}]
    end)
  end

  @doc """
  What a directory holds after `ops`: `%{creds: state | nil, keys: %{{type,
  id_string} => value}}`.
  """
  @spec final_state([tuple()]) :: %{creds: struct() | nil, keys: map()}
  def final_state(ops) do
    Enum.reduce(ops, %{creds: nil, keys: %{}}, fn
      {:creds, state}, acc -> %{acc | creds: state}
      {:save, type, id, value, _}, acc -> put_in(acc, [:keys, {type, to_string(id)}], value)
      {:delete, type, id, _}, acc -> %{acc | keys: Map.delete(acc.keys, {type, to_string(id)})}
    end)
  end

  @doc """
  The value a backend of `kind` loads back for `value` saved as `type`
  (`:creds` for credentials). ETF returns every term exactly; the JSON
  backend returns a tctoken's missing `sender_timestamp` as `nil` and the
  keys of `account_settings.default_disappearing_mode` as strings.
  """
  @spec loaded(:etf | :json, atom(), term()) :: term()
  def loaded(:etf, _type, value), do: value

  def loaded(:json, :tctoken, %{} = value), do: Map.put_new(value, :sender_timestamp, nil)

  def loaded(:json, :creds, %State{account_settings: %{} = settings} = state) do
    mode =
      case Map.get(settings, :default_disappearing_mode) do
        %{} = mode -> Map.new(mode, fn {k, v} -> {to_string(k), v} end)
        other -> other
      end

    %{state | account_settings: Map.put(settings, :default_disappearing_mode, mode)}
  end

  def loaded(:json, _type, value), do: value

  @doc """
  Operations beyond the fixture set: more keys of every type, an integer id,
  ids with `/`, `:` and `__`, a key type outside the persisted ten,
  overwrites, deletes (of the last id of a type, and of keys that never
  existed) and a second credentials save. Valid for both backend kinds.
  """
  @spec extra_ops() :: [tuple()]
  def extra_ops do
    samples = Map.new(sample_keys(), fn {type, id, value} -> {{type, id}, value} end)

    saves =
      for {type, id, value} <- sample_keys(),
          do: {:save, type, id, value, "sample"}

    saves ++
      [
        {:save, :"pre-key", 4242, DeterministicAuth.x25519_key_pair(4242), "integer id"},
        {:save, :"device-list", "alice/device:0", ["primary"], "overwrite, sanitised id"},
        {:save, :tctoken, "a__b@lid", samples[{:tctoken, "15551112222@s.whatsapp.net"}],
         "id containing __ (phantom a/b@lid in the scan)"},
        {:save, :"sender-key", "120363000000000042@g.us::bob/x::7",
         samples[{:"sender-key", "120363000000000002@g.us::15551112222::3"}],
         "sender-key id with '/'"},
        {:save, :"custom-type", "not/listed:1", %{"kept" => [1, "two"]}, "unpersisted type"},
        {:delete, :"pre-key", "2", "fixture key"},
        {:delete, :"lid-mapping", "15559876543", "fixture key"},
        {:delete, :"lid-mapping", "98765432109876_reverse", "fixture key"},
        {:delete, :"lid-mapping", "15551112222", "sample key"},
        {:delete, :"lid-mapping", "98765432100001_reverse", "last id of its type"},
        {:delete, :"identity-key", "never-saved", "missing key"},
        {:delete, :"app-state-sync-version", "never-saved", "missing key, known type"},
        {:delete, :"custom-type", "never-saved", "missing key, unpersisted type"},
        {:save, :session, "15551112222.1", samples[{:session, "15551112222.1"}], "re-save"},
        {:creds, creds(:json, 77)}
      ]
  end

  @doc "The fixture operations followed by `extra_ops/0`."
  @spec all_ops() :: [tuple()]
  def all_ops, do: Fixtures.ops() ++ extra_ops()

  @doc """
  A fully populated `%State{}` that a backend of `kind` loads back exactly:
  for `:json` the `additional_data` is JSON-safe and history message keys
  carry every field the JSON form has; for `:etf` `additional_data` holds
  atoms, tuples and other terms JSON cannot.
  """
  @spec creds(:etf | :json, non_neg_integer()) :: State.t()
  def creds(:json, seed) do
    DeterministicAuth.state(seed, %{
      processed_history_messages: [
        history(seed, :pn, "1444#{seed}@s.whatsapp.net", false),
        history(seed + 1, :lid, "9#{seed}@lid", true)
      ],
      account_settings: %{
        unarchive_chats: true,
        default_disappearing_mode: %{
          "ephemeral_expiration" => 604_800,
          "ephemeral_setting_timestamp" => 1_710_000_000
        }
      },
      additional_data: %{
        "labels" => ["alpha", "β-beta"],
        "nested" => %{
          "flag" => false,
          "none" => nil,
          "ratio" => 0.25,
          "list" => [1, -2, "three", %{"four" => [4]}],
          "token" => <<0, 1, 2, 255>>
        },
        "seed" => seed
      }
    })
  end

  def creds(:etf, seed) do
    DeterministicAuth.state(seed, %{
      additional_data: %{
        labels: [:alpha, :beta],
        nested: %{token: <<5, 6, 7>>, status: {:ok, 42}, ref: {:a, [1.5, -3], "é"}},
        big: -(2 ** 80),
        charlist: ~c"abc"
      }
    })
  end

  defp history(seed, mode, jid, from_me) do
    %{
      key: %{
        remote_jid: jid,
        remote_jid_alt: nil,
        from_me: from_me,
        id: "3EB0" <> Base.encode16(DeterministicAuth.bytes(seed, "msg", 8)),
        participant: nil,
        participant_alt: nil,
        addressing_mode: mode,
        server_id: nil
      },
      message_timestamp: 1_710_000_000 + seed
    }
  end

  @doc """
  Realistic `{type, id, value}` samples, at least one for each persisted
  type, in forms BaileysEx really stores. Every value loads back exactly
  from both backend kinds, except a tctoken without `sender_timestamp`
  (see `loaded/3`).
  """
  @spec sample_keys() :: [{atom(), String.t(), term()}]
  def sample_keys do
    [
      {:session, "15551112222.1", session_record(1)},
      {:session, "98765432100001_1.0", session_record(2)},
      {:"pre-key", "31", DeterministicAuth.x25519_key_pair(31)},
      {:"sender-key", "120363000000000002@g.us::15551112222::3", sender_key_record(3)},
      {:"sender-key-memory", "120363000000000002@g.us",
       %{"15551112222:1@s.whatsapp.net" => true, "98765432100001:4@lid" => true}},
      {:"app-state-sync-key", "AAAAAK1x", %{key_data: bytes(4, "key_data", 32)}},
      {:"app-state-sync-key", "AAAA/+1y", bytes(5, "key_data", 32)},
      {:"app-state-sync-version", "regular_low", sync_version(6)},
      {:"lid-mapping", "15551112222", "98765432100001"},
      {:"lid-mapping", "98765432100001_reverse", "15551112222"},
      {:"device-list", "15551112222", ["0", "1", "17"]},
      {:tctoken, "15551112222@s.whatsapp.net",
       %{token: bytes(7, "tctoken", 24), timestamp: "1710000300", sender_timestamp: 1_710_000_301}},
      {:tctoken, "98765432100001@lid",
       %{token: bytes(8, "tctoken", 24), timestamp: "1710000400"}},
      {:"identity-key", "15551112222.1", <<5>> <> bytes(9, "identity", 32)},
      {:"identity-key", "98765432100001_1.0",
       %{
         "current" => <<5>> <> bytes(10, "identity", 32),
         "previous" => <<5>> <> bytes(11, "identity", 32)
       }}
    ]
  end

  @doc "A real Signal base key (33 bytes) that is not valid UTF-8: JSON holds it only as base64."
  @spec non_utf8_base_key() :: binary()
  def non_utf8_base_key do
    <<5, 47, 94, 146, 126, 20, 145, 64, 167, 132, 196, 186, 86, 38, 23, 215, 31, 144, 133, 214,
      230, 196, 84, 64, 227, 163, 144, 29, 239, 76, 133, 227, 35>>
  end

  @doc """
  A small session of short fixed byte strings under `base_key`, with a
  pending pre-key and one receiving chain holding `message_keys`.
  """
  @spec small_session(binary(), %{non_neg_integer() => binary()}) :: map()
  def small_session(base_key, message_keys) do
    %{
      current_ratchet: %{
        root_key: <<11, 12, 13>>,
        ephemeral_key_pair: %{public: <<14, 15, 16>>, private: <<17, 18, 19>>},
        last_remote_ephemeral: <<20, 21, 22>>,
        previous_counter: 7
      },
      index_info: %{
        remote_identity_key: <<23, 24, 25>>,
        local_identity_key: <<26, 27, 28>>,
        base_key: base_key,
        base_key_type: :sending,
        closed: -1
      },
      pending_pre_key: %{signed_pre_key_id: 9, base_key: <<29, 30>>, pre_key_id: 10},
      registration_id: 12_345,
      chains: %{
        <<31, 32, 33>> => %{
          chain_key: %{counter: 1, key: <<34, 35, 36>>},
          chain_type: :receiving,
          message_keys: message_keys
        }
      }
    }
  end

  @doc "A Signal session record with an open and a closed session."
  @spec session_record(integer()) :: struct()
  def session_record(seed) do
    open_base = <<5>> <> bytes(seed, "open base", 32)
    closed_base = <<5>> <> bytes(seed, "closed base", 32)

    %SessionRecord{
      sessions: %{
        open_base =>
          session(seed, open_base, :sending, nil, %{
            base_key: <<5>> <> bytes(seed, "pending", 32),
            pre_key_id: seed + 16,
            signed_pre_key_id: 1
          }),
        closed_base => session(seed + 100, closed_base, :receiving, 1_709_000_000_000, nil)
      }
    }
  end

  defp session(seed, base_key, base_key_type, closed, pending_pre_key) do
    %{
      chains: %{
        (<<5>> <> bytes(seed, "sending chain", 32)) => %{
          chain_key: %{counter: 3, key: bytes(seed, "sending chain key", 32)},
          chain_type: :sending,
          message_keys: %{}
        },
        (<<5>> <> bytes(seed, "receiving chain", 32)) => %{
          chain_key: %{counter: 9, key: bytes(seed, "receiving chain key", 32)},
          chain_type: :receiving,
          message_keys: %{
            0 => bytes(seed, "mk0", 32),
            4 => bytes(seed, "mk4", 32),
            8 => bytes(seed, "mk8", 32)
          }
        }
      },
      current_ratchet: %{
        ephemeral_key_pair: %{
          private: bytes(seed, "ratchet private", 32),
          public: <<5>> <> bytes(seed, "ratchet public", 32)
        },
        last_remote_ephemeral: <<5>> <> bytes(seed, "remote ephemeral", 32),
        previous_counter: 2,
        root_key: bytes(seed, "root", 32)
      },
      index_info: %{
        base_key: base_key,
        base_key_type: base_key_type,
        closed: closed,
        local_identity_key: <<5>> <> bytes(seed, "local identity", 32),
        remote_identity_key: <<5>> <> bytes(seed, "remote identity", 32)
      },
      pending_pre_key: pending_pre_key,
      registration_id: 4000 + seed
    }
  end

  @doc """
  A sender-key record with two states: one with a private signing key and
  three stored message keys, one public-only without message keys.
  """
  @spec sender_key_record(integer()) :: struct()
  def sender_key_record(seed) do
    signing = DeterministicAuth.x25519_key_pair(seed + 500)

    %SenderKeyRecord{
      sender_key_states: [
        %SenderKeyState{
          sender_key_id: 900_000 + seed,
          sender_chain_key: %SenderChainKey{iteration: 12, seed: bytes(seed, "chain", 32)},
          sender_signing_key: %{public: <<5>> <> signing.public, private: signing.private},
          sender_message_keys:
            for(i <- [9, 10, 11], do: sender_message_key(i, bytes(seed, "mk#{i}", 32)))
        },
        %SenderKeyState{
          sender_key_id: 800_000 + seed,
          sender_chain_key: %SenderChainKey{iteration: 0, seed: bytes(seed, "chain 2", 32)},
          sender_signing_key: %{public: <<5>> <> bytes(seed, "signing 2", 32), private: nil},
          sender_message_keys: []
        }
      ]
    }
  end

  @doc """
  A sender message key whose `iv` and `cipher_key` are derived from `seed`
  with HKDF-SHA256 (zero salt, info "WhisperGroup", 48 bytes: 16 iv then 32
  cipher key), as Signal does.
  """
  @spec sender_message_key(non_neg_integer(), binary()) :: struct()
  def sender_message_key(iteration, seed) do
    prk = :crypto.mac(:hmac, :sha256, <<0::256>>, seed)
    t1 = :crypto.mac(:hmac, :sha256, prk, ["WhisperGroup", 1])
    t2 = :crypto.mac(:hmac, :sha256, prk, [t1, "WhisperGroup", 2])
    <<iv::binary-size(16), cipher_key::binary-size(32), _::binary>> = t1 <> t2
    %SenderMessageKey{iteration: iteration, iv: iv, cipher_key: cipher_key, seed: seed}
  end

  defp sync_version(seed) do
    %{
      version: 40 + seed,
      hash: bytes(seed, "lthash", 64) <> bytes(seed + 1, "lthash", 64),
      index_value_map:
        Map.new(1..5, fn i ->
          {Base.encode64(bytes(seed, "index #{i}", 32)),
           %{value_mac: bytes(seed, "mac #{i}", 32)}}
        end)
    }
  end

  defp bytes(seed, label, size), do: DeterministicAuth.bytes(seed, label, size)
end
