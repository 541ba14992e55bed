defmodule BaileysEx.Auth.NIF.Baseline.JSONTerms do
  @moduledoc """
  Term <-> JSON-map codecs of the pure-Elixir JSON baseline (contract section
  5): what each auth value looks like as decoded JSON (string-keyed maps,
  lists, strings, numbers) before it is turned into JSON text, and back.

  Binaries are written as BufferJSON objects `%{"type" => "Buffer", "data" =>
  base64}`; a Buffer whose `"data"` is a list of bytes is accepted on read.
  Every persisted key type has an explicit codec; anything else goes through
  the "json-safe" codec. Reading also understands the legacy tagged-term form
  (`__type__`, `__atom_keys__`, byte-list Buffers), creating atoms and structs
  only from a fixed per-type allow-list.

  Malformed input raises `ArgumentError` (the caller turns it into
  `{:error, %ArgumentError{}}`); values of an unexpected shape where the
  original crashes crash here too.
  """

  alias BaileysEx.Auth.State
  alias BaileysEx.Protocol.Proto.ADVSignedDeviceIdentity
  alias BaileysEx.Protocol.Proto.MessageKey
  alias BaileysEx.Signal.Group.SenderChainKey
  alias BaileysEx.Signal.Group.SenderKeyRecord
  alias BaileysEx.Signal.Group.SenderKeyState
  alias BaileysEx.Signal.Group.SenderMessageKey
  alias BaileysEx.Signal.SessionRecord

  @buffer "Buffer"

  # --- legacy allow-lists: name on disk => atom / module ---------------------

  @state_fields [
    :account,
    :additional_data,
    :last_account_sync_timestamp,
    :last_prop_hash,
    :me,
    :my_app_state_key_id,
    :pairing_code,
    :platform,
    :routing_info,
    :noise_key,
    :pairing_ephemeral_key,
    :signed_identity_key,
    :signed_pre_key,
    :registration_id,
    :adv_secret_key,
    :signal_identities,
    :processed_history_messages,
    :account_sync_counter,
    :account_settings,
    :registered,
    :first_unuploaded_pre_key_id,
    :next_pre_key_id
  ]

  @creds_atoms @state_fields ++
                 [:details, :account_signature_key, :account_signature, :device_signature] ++
                 [:remote_jid, :from_me, :id, :participant] ++
                 [:public, :private, :key_pair, :key_id, :signature] ++
                 [:identifier, :identifier_key, :name, :device_id, :lid, :key] ++
                 [:message_timestamp, :unarchive_chats, :default_disappearing_mode] ++
                 [:remote_jid_alt, :participant_alt, :addressing_mode, :server_id, :pn]

  @session_atoms [
    :sessions,
    :current_ratchet,
    :root_key,
    :ephemeral_key_pair,
    :public,
    :private,
    :last_remote_ephemeral,
    :previous_counter,
    :index_info,
    :remote_identity_key,
    :local_identity_key,
    :base_key,
    :base_key_type,
    :closed,
    :chains,
    :pending_pre_key,
    :registration_id,
    :chain_key,
    :counter,
    :key,
    :chain_type,
    :message_keys,
    :pre_key_id,
    :signed_pre_key_id,
    :sending,
    :receiving
  ]

  @sender_key_atoms [
    :sender_key_states,
    :sender_key_id,
    :sender_chain_key,
    :sender_signing_key,
    :sender_message_keys,
    :iteration,
    :seed,
    :iv,
    :cipher_key,
    :public,
    :private
  ]

  to_table = fn list -> Map.new(list, &{Atom.to_string(&1), &1}) end

  @allow %{
    creds: %{
      atoms: to_table.(@creds_atoms),
      modules: to_table.([State, ADVSignedDeviceIdentity, MessageKey])
    },
    session: %{atoms: to_table.(@session_atoms), modules: to_table.([SessionRecord])},
    "pre-key": %{atoms: to_table.([:public, :private]), modules: %{}},
    "sender-key": %{
      atoms: to_table.(@sender_key_atoms),
      modules: to_table.([SenderKeyRecord, SenderKeyState, SenderChainKey, SenderMessageKey])
    },
    "app-state-sync-key": %{atoms: to_table.([:key_data]), modules: %{}},
    "app-state-sync-version": %{
      atoms: to_table.([:version, :hash, :index_value_map, :value_mac]),
      modules: %{}
    },
    tctoken: %{atoms: to_table.([:token, :timestamp]), modules: %{}}
  }
  @no_allow %{atoms: %{}, modules: %{}}

  @me_keys %{"id" => :id, "name" => :name, "lid" => :lid, "device_id" => :device_id}

  # --- additional_data validation ----------------------------------------

  @doc """
  Checks that `additional_data` only holds strings, numbers, booleans, nil,
  lists and string-keyed maps. Returns `:ok` or
  `{:error, {:invalid_additional_data, message}}` naming the first offending
  value (or map key) and its path.
  """
  @spec validate_additional_data(term()) :: :ok | {:error, {:invalid_additional_data, String.t()}}
  def validate_additional_data(nil), do: :ok
  def validate_additional_data(data), do: check_plain(data, [:additional_data])

  # `rev_path` is the path to `value`, innermost segment first.
  defp check_plain(value, _rev_path)
       when is_nil(value) or is_binary(value) or is_number(value) or is_boolean(value),
       do: :ok

  defp check_plain(list, rev_path) when is_list(list), do: check_items(list, 0, rev_path)

  # Structs are not enumerable: they raise here, as in the original.
  defp check_plain(map, rev_path) when is_map(map),
    do: check_entries(Enum.to_list(map), rev_path)

  defp check_plain(value, rev_path) do
    {:error,
     {:invalid_additional_data,
      "additional_data contains a #{kind(value)} at path #{inspect(Enum.reverse(rev_path))}; " <>
        "only strings, numbers, booleans, lists, and string-keyed maps are supported"}}
  end

  defp check_items([], _index, _rev_path), do: :ok

  defp check_items([item | rest], index, rev_path) do
    with :ok <- check_plain(item, [index | rev_path]), do: check_items(rest, index + 1, rev_path)
  end

  defp check_entries([], _rev_path), do: :ok

  defp check_entries([{key, _value} | _rest], rev_path) when not is_binary(key) do
    {:error,
     {:invalid_additional_data,
      "additional_data contains a #{kind(key)} map key at path " <>
        "#{inspect(Enum.reverse(rev_path))}; only string keys are supported"}}
  end

  defp check_entries([{key, value} | rest], rev_path) do
    with :ok <- check_plain(value, [key | rev_path]), do: check_entries(rest, rev_path)
  end

  defp kind(value) when is_atom(value), do: "atom (#{inspect(value)})"
  defp kind(value) when is_tuple(value), do: "tuple"
  defp kind(value) when is_pid(value), do: "pid"
  defp kind(value) when is_reference(value), do: "reference"
  defp kind(value) when is_function(value), do: "function"
  defp kind(_value), do: "unsupported term"

  # --- credentials ---------------------------------------------------------

  @doc """
  Turns a `%State{}` into its JSON map (every struct field, snake_case names).
  """
  @spec encode_credentials(State.t()) :: map()
  def encode_credentials(%State{} = s) do
    %{
      "account" => if(s.account == nil, do: nil, else: account_out(s.account)),
      "account_settings" => settings_out(s.account_settings),
      "account_sync_counter" => s.account_sync_counter,
      "additional_data" => nil_or(s.additional_data, &safe_out/1),
      "adv_secret_key" => s.adv_secret_key,
      "first_unuploaded_pre_key_id" => s.first_unuploaded_pre_key_id,
      "last_account_sync_timestamp" => s.last_account_sync_timestamp,
      "last_prop_hash" => nil_or(s.last_prop_hash, &safe_out/1),
      "me" => nil_or(s.me, &safe_out/1),
      "my_app_state_key_id" => s.my_app_state_key_id,
      "next_pre_key_id" => s.next_pre_key_id,
      "noise_key" => pair_out(s.noise_key),
      "pairing_code" => s.pairing_code,
      "pairing_ephemeral_key" => nil_or(s.pairing_ephemeral_key, &pair_out/1),
      "platform" => s.platform,
      "processed_history_messages" =>
        Enum.map(s.processed_history_messages || [], &history_out/1),
      "registered" => s.registered,
      "registration_id" => s.registration_id,
      "routing_info" => nil_or(s.routing_info, &buf_out/1),
      "signal_identities" => Enum.map(s.signal_identities || [], &identity_out/1),
      "signed_identity_key" => pair_out(s.signed_identity_key),
      "signed_pre_key" => signed_pair_out(s.signed_pre_key)
    }
  end

  @doc """
  Turns a decoded creds JSON value back into a `%State{}` (explicit form) or
  whatever the legacy form decodes to.
  """
  @spec decode_credentials(term()) :: term()
  def decode_credentials(json) do
    if legacy?(json) do
      case legacy_in(json, @allow.creds) do
        %State{} = state -> state
        %{} = fields -> struct(State, fields)
        other -> other
      end
    else
      creds_in(json)
    end
  end

  defp creds_in(%{} = j) do
    struct(State, %{
      account: nil_or(Map.get(j, "account"), &account_in/1),
      account_settings: settings_in(Map.get(j, "account_settings")),
      account_sync_counter: Map.get(j, "account_sync_counter", 0),
      additional_data: nil_or(Map.get(j, "additional_data"), &safe_in/1),
      adv_secret_key: Map.get(j, "adv_secret_key"),
      first_unuploaded_pre_key_id: Map.get(j, "first_unuploaded_pre_key_id", 1),
      last_account_sync_timestamp: Map.get(j, "last_account_sync_timestamp"),
      last_prop_hash: nil_or(Map.get(j, "last_prop_hash"), &safe_in/1),
      me: nil_or(Map.get(j, "me"), &me_in/1),
      my_app_state_key_id: Map.get(j, "my_app_state_key_id"),
      next_pre_key_id: Map.get(j, "next_pre_key_id", 1),
      noise_key: pair_in(Map.get(j, "noise_key")),
      pairing_code: Map.get(j, "pairing_code"),
      pairing_ephemeral_key: nil_or(Map.get(j, "pairing_ephemeral_key"), &pair_in/1),
      platform: Map.get(j, "platform"),
      processed_history_messages:
        Enum.map(Map.get(j, "processed_history_messages", []), &history_in/1),
      registered: Map.get(j, "registered", false),
      registration_id: Map.get(j, "registration_id", 0),
      routing_info: nil_or(Map.get(j, "routing_info"), &buf_in/1),
      signal_identities: Enum.map(Map.get(j, "signal_identities", []), &identity_in/1),
      signed_identity_key: pair_in(Map.get(j, "signed_identity_key")),
      signed_pre_key: signed_pair_in(Map.get(j, "signed_pre_key"))
    })
  end

  defp creds_in(other), do: other

  defp account_out(%ADVSignedDeviceIdentity{} = a) do
    %{
      "account_signature" => buf_out(a.account_signature),
      "account_signature_key" => buf_out(a.account_signature_key),
      "details" => buf_out(a.details),
      "device_signature" => buf_out(a.device_signature)
    }
  end

  defp account_out(%{} = other), do: safe_out(other)

  defp account_in(%{"details" => _, "account_signature" => _} = a) do
    %ADVSignedDeviceIdentity{
      details: buf_in(a["details"]),
      account_signature: buf_in(a["account_signature"]),
      account_signature_key: buf_in(a["account_signature_key"]),
      device_signature: buf_in(a["device_signature"])
    }
  end

  defp account_in(%{} = other), do: safe_in(other)
  defp account_in(other), do: other

  defp settings_out(%{} = settings) do
    %{
      "default_disappearing_mode" =>
        nil_or(field(settings, :default_disappearing_mode), &safe_out/1),
      "unarchive_chats" => truthy?(field(settings, :unarchive_chats, false))
    }
  end

  defp settings_out(_other), do: %{"default_disappearing_mode" => nil, "unarchive_chats" => false}

  defp settings_in(nil), do: %{unarchive_chats: false, default_disappearing_mode: nil}

  defp settings_in(%{} = j) do
    %{
      unarchive_chats: truthy?(Map.get(j, "unarchive_chats", false)),
      default_disappearing_mode: nil_or(Map.get(j, "default_disappearing_mode"), &safe_in/1)
    }
  end

  defp truthy?(value), do: value not in [nil, false]

  defp me_in(%{} = j) do
    Map.new(j, fn {k, v} -> {Map.get(@me_keys, k, k), safe_in(v)} end)
  end

  defp identity_out(%{} = identity) do
    who = field(identity, :identifier, %{})

    %{
      "identifier" => %{"device_id" => field(who, :device_id), "name" => field(who, :name)},
      "identifier_key" => buf_out(field(identity, :identifier_key))
    }
  end

  defp identity_in(%{"identifier" => who, "identifier_key" => key}) do
    %{
      identifier: %{device_id: Map.get(who, "device_id"), name: Map.get(who, "name")},
      identifier_key: buf_in(key)
    }
  end

  defp identity_in(%{} = j) do
    who = required_map!(j, "identifier", "signal identity")

    %{
      identifier: %{device_id: Map.get(who, "device_id"), name: Map.get(who, "name")},
      identifier_key: buf_in(required!(j, "identifier_key", "signal identity"))
    }
  end

  defp identity_in(other), do: bad!("signal identity", other)

  defp history_out(%{} = entry) do
    %{
      "key" => message_key_out(field(entry, :key, %{})),
      "message_timestamp" => field(entry, :message_timestamp)
    }
  end

  defp history_in(%{"key" => key} = j) do
    %{key: message_key_in(key), message_timestamp: Map.get(j, "message_timestamp")}
  end

  defp history_in(%{} = j) do
    key = required_map!(j, "key", "processed history message")
    %{key: message_key_in(key), message_timestamp: Map.get(j, "message_timestamp")}
  end

  defp history_in(other), do: bad!("processed history message", other)

  defp message_key_out(%{} = key) do
    %{
      "addressing_mode" => nil_or(field(key, :addressing_mode), &addressing_out/1),
      "from_me" => field(key, :from_me, false),
      "id" => field(key, :id),
      "participant" => field(key, :participant),
      "participant_alt" => field(key, :participant_alt),
      "remote_jid" => field(key, :remote_jid),
      "remote_jid_alt" => field(key, :remote_jid_alt),
      "server_id" => field(key, :server_id)
    }
  end

  defp message_key_in(%{} = j) do
    %{
      id: Map.get(j, "id"),
      participant: Map.get(j, "participant"),
      participant_alt: Map.get(j, "participant_alt"),
      remote_jid: Map.get(j, "remote_jid"),
      remote_jid_alt: Map.get(j, "remote_jid_alt"),
      from_me: Map.get(j, "from_me", false),
      addressing_mode: nil_or(Map.get(j, "addressing_mode"), &addressing_in/1),
      server_id: Map.get(j, "server_id")
    }
  end

  defp addressing_out(:pn), do: "pn"
  defp addressing_out(:lid), do: "lid"

  defp addressing_out(other),
    do: raise(ArgumentError, "addressing mode #{inspect(other)} is not :pn or :lid")

  defp addressing_in("pn"), do: :pn
  defp addressing_in("lid"), do: :lid
  defp addressing_in(other), do: bad!("addressing mode", other)

  # --- key data ------------------------------------------------------------

  @doc """
  Turns the value of one persisted key of `type` into its JSON map.
  """
  @spec encode_key(atom(), term()) :: term()
  def encode_key(:session, %SessionRecord{} = record), do: session_record_out(record)
  def encode_key(:"pre-key", value), do: pair_out(value)
  def encode_key(:"sender-key", %SenderKeyRecord{} = record), do: sender_record_out(record)
  def encode_key(:"app-state-sync-key", value) when is_binary(value), do: buf_out(value)

  def encode_key(:"app-state-sync-key", %{} = value),
    do: %{"key_data" => buf_out(field(value, :key_data))}

  def encode_key(:"app-state-sync-version", %{} = value), do: sync_version_out(value)
  def encode_key(:tctoken, %{} = value), do: tctoken_out(value)
  def encode_key(:"identity-key", value) when is_binary(value), do: buf_out(value)

  def encode_key(:"identity-key", %{} = value),
    do: Map.new(value, fn {k, v} -> {json_key(k), buf_out(v)} end)

  def encode_key(type, value)
      when type not in [:session, :"sender-key", :"app-state-sync-key"] and
             type not in [:"app-state-sync-version", :tctoken, :"identity-key"],
      do: safe_out(value)

  @doc """
  Turns the decoded JSON of one persisted key of `type` back into its value
  (explicit form, or the legacy tagged form).
  """
  @spec decode_key(atom(), term()) :: term()
  def decode_key(type, json) do
    if legacy?(json),
      do: legacy_in(json, Map.get(@allow, type, @no_allow)),
      else: key_in(type, json)
  end

  defp key_in(:session, j), do: session_record_in(j)
  defp key_in(:"pre-key", j), do: pair_in(j)
  defp key_in(:"sender-key", j), do: sender_record_in(j)
  defp key_in(:"app-state-sync-key", %{"type" => @buffer} = j), do: buf_in(j)

  defp key_in(:"app-state-sync-key", %{} = j),
    do: %{key_data: buf_in(required!(j, "key_data", "app-state-sync-key"))}

  defp key_in(:"app-state-sync-key", other), do: bad!("app-state-sync-key", other)
  defp key_in(:"app-state-sync-version", j), do: sync_version_in(j)
  defp key_in(:tctoken, %{} = j), do: tctoken_in(j)
  defp key_in(:"identity-key", %{"type" => @buffer} = j), do: buf_in(j)

  defp key_in(:"identity-key", %{} = j),
    do: Map.new(j, fn {k, v} -> {k, buf_in(v)} end)

  defp key_in(type, j) when type not in [:tctoken, :"identity-key"], do: safe_in(j)

  # session

  defp session_record_out(%SessionRecord{sessions: sessions}),
    do: %{"sessions" => b64_keyed_out(sessions, &session_out/1)}

  defp session_record_in(%{"sessions" => sessions}) when is_map(sessions),
    do: %SessionRecord{sessions: b64_keyed_in(sessions, &session_in/1)}

  defp session_record_in(%{} = j) do
    sessions = required_map!(j, "sessions", "session record")
    %SessionRecord{sessions: b64_keyed_in(sessions, &session_in/1)}
  end

  defp session_record_in(other), do: bad!("session record", other)

  defp session_out(%{} = s) do
    %{
      "chains" => s |> field(:chains, %{}) |> b64_keyed_out(&chain_out/1),
      "current_ratchet" => ratchet_out(field(s, :current_ratchet, %{})),
      "index_info" => index_info_out(field(s, :index_info, %{})),
      "pending_pre_key" => nil_or(field(s, :pending_pre_key), &pending_out/1),
      "registration_id" => field(s, :registration_id)
    }
  end

  defp session_in(%{} = j) do
    %{
      chains: j |> Map.get("chains", %{}) |> b64_keyed_in(&chain_in/1),
      current_ratchet: ratchet_in(Map.get(j, "current_ratchet", %{})),
      index_info: index_info_in(Map.get(j, "index_info", %{})),
      pending_pre_key: nil_or(Map.get(j, "pending_pre_key"), &pending_in/1),
      registration_id: Map.get(j, "registration_id")
    }
  end

  defp ratchet_out(%{} = r) do
    %{
      "ephemeral_key_pair" => nil_or(field(r, :ephemeral_key_pair), &pair_out/1),
      "last_remote_ephemeral" => nil_or(field(r, :last_remote_ephemeral), &buf_out/1),
      "previous_counter" => field(r, :previous_counter),
      "root_key" => nil_or(field(r, :root_key), &buf_out/1)
    }
  end

  defp ratchet_in(%{} = j) do
    %{
      ephemeral_key_pair: nil_or(Map.get(j, "ephemeral_key_pair"), &pair_in/1),
      last_remote_ephemeral: nil_or(Map.get(j, "last_remote_ephemeral"), &buf_in/1),
      previous_counter: Map.get(j, "previous_counter"),
      root_key: nil_or(Map.get(j, "root_key"), &buf_in/1)
    }
  end

  defp index_info_out(%{} = i) do
    %{
      "base_key" => nil_or(field(i, :base_key), &buf_out/1),
      "base_key_type" => nil_or(field(i, :base_key_type), &direction_out/1),
      "closed" => field(i, :closed),
      "local_identity_key" => nil_or(field(i, :local_identity_key), &buf_out/1),
      "remote_identity_key" => nil_or(field(i, :remote_identity_key), &buf_out/1)
    }
  end

  defp index_info_in(%{} = j) do
    %{
      base_key: nil_or(Map.get(j, "base_key"), &buf_in/1),
      base_key_type: nil_or(Map.get(j, "base_key_type"), &direction_in/1),
      closed: Map.get(j, "closed"),
      local_identity_key: nil_or(Map.get(j, "local_identity_key"), &buf_in/1),
      remote_identity_key: nil_or(Map.get(j, "remote_identity_key"), &buf_in/1)
    }
  end

  defp pending_out(%{} = p) do
    %{
      "base_key" => nil_or(field(p, :base_key), &buf_out/1),
      "pre_key_id" => field(p, :pre_key_id),
      "signed_pre_key_id" => field(p, :signed_pre_key_id)
    }
  end

  defp pending_in(%{} = j) do
    %{
      base_key: nil_or(Map.get(j, "base_key"), &buf_in/1),
      pre_key_id: Map.get(j, "pre_key_id"),
      signed_pre_key_id: Map.get(j, "signed_pre_key_id")
    }
  end

  defp chain_out(%{} = c) do
    %{
      "chain_key" => chain_key_out(field(c, :chain_key, %{})),
      "chain_type" => nil_or(field(c, :chain_type), &direction_out/1),
      "message_keys" => c |> field(:message_keys, %{}) |> message_keys_out()
    }
  end

  defp chain_in(%{} = j) do
    %{
      chain_key: chain_key_in(Map.get(j, "chain_key", %{})),
      chain_type: nil_or(Map.get(j, "chain_type"), &direction_in/1),
      message_keys: j |> Map.get("message_keys", %{}) |> message_keys_in()
    }
  end

  defp chain_key_out(%{} = ck),
    do: %{"counter" => field(ck, :counter), "key" => nil_or(field(ck, :key), &buf_out/1)}

  defp chain_key_in(%{} = j),
    do: %{counter: Map.get(j, "counter"), key: nil_or(Map.get(j, "key"), &buf_in/1)}

  defp message_keys_out(%{} = keys),
    do: Map.new(keys, fn {index, key} -> {Integer.to_string(index), buf_out(key)} end)

  defp message_keys_in(%{} = keys),
    do: Map.new(keys, fn {index, key} -> {String.to_integer(index), buf_in(key)} end)

  defp direction_out(:sending), do: "sending"
  defp direction_out(:receiving), do: "receiving"

  defp direction_out(other),
    do: raise(ArgumentError, "chain direction #{inspect(other)} is not :sending or :receiving")

  defp direction_in("sending"), do: :sending
  defp direction_in("receiving"), do: :receiving
  defp direction_in(other), do: bad!("chain direction", other)

  defp b64_keyed_out(nil, _fun), do: %{}

  defp b64_keyed_out(%{} = map, fun),
    do: Map.new(map, fn {k, v} -> {Base.encode64(k), fun.(v)} end)

  defp b64_keyed_in(%{} = map, fun),
    do: Map.new(map, fn {k, v} -> {Base.decode64!(k), fun.(v)} end)

  # sender keys

  defp sender_record_out(%SenderKeyRecord{sender_key_states: states}),
    do: %{"sender_key_states" => Enum.map(states, &sender_state_out/1)}

  defp sender_record_in(%{"sender_key_states" => states}) when is_list(states),
    do: %SenderKeyRecord{sender_key_states: Enum.map(states, &sender_state_in/1)}

  defp sender_record_in(%{} = j) do
    states = required!(j, "sender_key_states", "sender key record")
    if not is_list(states), do: bad!("sender key record", states)
    %SenderKeyRecord{sender_key_states: Enum.map(states, &sender_state_in/1)}
  end

  defp sender_record_in(other), do: bad!("sender key record", other)

  defp sender_state_out(%SenderKeyState{} = st) do
    %{
      "sender_chain_key" => %{
        "iteration" => st.sender_chain_key.iteration,
        "seed" => buf_out(st.sender_chain_key.seed)
      },
      "sender_key_id" => st.sender_key_id,
      "sender_message_keys" =>
        Enum.map(st.sender_message_keys, fn mk ->
          %{"iteration" => mk.iteration, "seed" => buf_out(mk.seed)}
        end),
      "sender_signing_key" => pair_out(st.sender_signing_key)
    }
  end

  defp sender_state_in(%{} = j) do
    chain = Map.get(j, "sender_chain_key")
    signing = pair_in(Map.get(j, "sender_signing_key"))

    %SenderKeyState{
      sender_key_id: Map.get(j, "sender_key_id"),
      sender_chain_key: %SenderChainKey{
        iteration: dig(chain, "iteration"),
        seed: buf_in(dig(chain, "seed"))
      },
      sender_signing_key: %{public: signing.public, private: signing.private},
      sender_message_keys:
        Enum.map(Map.get(j, "sender_message_keys", []), fn mk ->
          message_key(Map.get(mk, "iteration"), buf_in(Map.get(mk, "seed")))
        end)
    }
  end

  defp dig(nil, _key), do: nil
  defp dig(%{} = map, key), do: Map.get(map, key)

  # Rebuilds a sender message key: HKDF-SHA256 of the seed (zero salt, info
  # "WhisperGroup") gives 48 bytes, 16 of iv then 32 of cipher key.
  defp message_key(iteration, seed) do
    prk = :crypto.mac(:hmac, :sha256, <<0::256>>, seed)
    t1 = :crypto.mac(:hmac, :sha256, prk, ["WhisperGroup", 1])
    t2 = :crypto.mac(:hmac, :sha256, prk, [t1, "WhisperGroup", 2])
    <<iv::binary-size(16), cipher_key::binary-size(32)>> = <<t1::binary, t2::binary-size(16)>>
    %SenderMessageKey{iteration: iteration, iv: iv, cipher_key: cipher_key, seed: seed}
  end

  # app state

  defp sync_version_out(%{} = v) do
    %{
      "hash" => buf_out(field(v, :hash)),
      "index_value_map" =>
        v
        |> field(:index_value_map, %{})
        |> Map.new(fn {k, entry} ->
          {json_key(k), %{"value_mac" => buf_out(field(entry, :value_mac))}}
        end),
      "version" => field(v, :version)
    }
  end

  defp sync_version_in(%{} = j) do
    %{
      hash: buf_in(required!(j, "hash", "app-state-sync-version")),
      index_value_map:
        j
        |> Map.get("index_value_map", %{})
        |> Map.new(fn {k, entry} -> {k, value_mac_in(entry)} end),
      version: Map.get(j, "version")
    }
  end

  defp sync_version_in(other), do: bad!("app-state-sync-version", other)

  defp value_mac_in(%{} = j),
    do: %{value_mac: buf_in(required!(j, "value_mac", "index value map entry"))}

  defp value_mac_in(other), do: bad!("index value map entry", other)

  # tctoken

  defp tctoken_out(%{} = t) do
    %{
      "timestamp" => safe_out(field(t, :timestamp)),
      "token" => safe_out(field(t, :token)),
      "senderTimestamp" => safe_out(field(t, :sender_timestamp))
    }
  end

  defp tctoken_in(%{} = j) do
    sender_timestamp =
      case Map.fetch(j, "senderTimestamp") do
        {:ok, value} -> value
        :error -> Map.get(j, "sender_timestamp")
      end

    %{
      timestamp: safe_in(Map.get(j, "timestamp")),
      token: safe_in(Map.get(j, "token")),
      sender_timestamp: safe_in(sender_timestamp)
    }
  end

  # key pairs

  defp pair_out(%{} = pair) do
    %{
      "private" => nil_or(field(pair, :private), &buf_out/1),
      "public" => nil_or(field(pair, :public), &buf_out/1)
    }
  end

  defp pair_in(%{} = j) do
    %{
      private: nil_or(Map.get(j, "private"), &buf_in/1),
      public: nil_or(Map.get(j, "public"), &buf_in/1)
    }
  end

  defp pair_in(other), do: bad!("key pair", other)

  defp signed_pair_out(%{} = sp) do
    %{
      "key_id" => field(sp, :key_id),
      "key_pair" => pair_out(field(sp, :key_pair, %{})),
      "signature" => nil_or(field(sp, :signature), &buf_out/1)
    }
  end

  defp signed_pair_in(%{} = j) do
    %{
      key_id: Map.get(j, "key_id"),
      key_pair: pair_in(required_map!(j, "key_pair", "signed pre-key")),
      signature: nil_or(Map.get(j, "signature"), &buf_in/1)
    }
  end

  defp signed_pair_in(other), do: bad!("signed pre-key", other)

  # --- json-safe -----------------------------------------------------------

  defp safe_out(value) when is_nil(value) or is_boolean(value) or is_number(value), do: value

  defp safe_out(bin) when is_binary(bin) do
    if String.valid?(bin) and String.printable?(bin), do: bin, else: buf_out(bin)
  end

  defp safe_out(list) when is_list(list), do: Enum.map(list, &safe_out/1)

  defp safe_out(%module{}) do
    raise ArgumentError, "a #{inspect(module)} struct has no JSON-safe form"
  end

  defp safe_out(%{} = map), do: Map.new(map, fn {k, v} -> {json_key(k), safe_out(v)} end)

  defp safe_out(atom) when is_atom(atom) do
    raise ArgumentError, "the atom #{inspect(atom)} has no JSON-safe form"
  end

  defp safe_out(other) do
    raise ArgumentError, "#{inspect(other)} has no JSON-safe form"
  end

  defp safe_in(value) when is_binary(value) or is_number(value) or is_atom(value), do: value
  defp safe_in(%{"type" => @buffer} = j), do: buf_in(j)
  defp safe_in(list) when is_list(list), do: Enum.map(list, &safe_in/1)

  defp safe_in(%{} = map) do
    if byte_map?(map),
      do: byte_map_in(map),
      else: Map.new(map, fn {k, v} -> {k, safe_in(v)} end)
  end

  defp safe_in(other), do: other

  # An object like {"0": 9, "1": 8} (a JS Uint8Array turned into JSON).
  defp byte_map?(map) when map_size(map) == 0, do: false

  defp byte_map?(map) do
    Enum.all?(map, fn {k, v} -> is_integer(v) and match?({_, ""}, Integer.parse(k)) end)
  end

  defp byte_map_in(map) do
    map
    |> Enum.map(fn {k, v} -> {String.to_integer(k), v} end)
    |> List.keysort(0)
    |> Enum.map(&elem(&1, 1))
    |> :erlang.list_to_binary()
  end

  defp json_key(key) when is_atom(key), do: Atom.to_string(key)

  defp json_key(key) when is_binary(key) do
    if String.valid?(key),
      do: key,
      else: raise(ArgumentError, "map key #{inspect(key)} is not UTF-8")
  end

  defp json_key(key), do: raise(ArgumentError, "map key #{inspect(key)} cannot be a JSON key")

  # --- buffers and small utilities -------------------------------------------

  defp buf_out(bin) when is_binary(bin), do: %{"type" => @buffer, "data" => Base.encode64(bin)}

  defp buf_in(%{"type" => @buffer, "data" => data}) when is_binary(data), do: Base.decode64!(data)

  defp buf_in(%{"type" => @buffer, "data" => data}) when is_list(data),
    do: :erlang.list_to_binary(data)

  defp buf_in(other), do: bad!("Buffer", other)

  defp nil_or(nil, _fun), do: nil
  defp nil_or(value, fun), do: fun.(value)

  # An atom-keyed field, falling back to its string-keyed spelling.
  defp field(map, key, default \\ nil) do
    case Map.fetch(map, key) do
      {:ok, value} -> value
      :error -> Map.get(map, Atom.to_string(key), default)
    end
  end

  defp required!(j, key, what) do
    case j do
      %{^key => value} when value != nil -> value
      _ -> bad!("#{what} (missing #{inspect(key)})", j)
    end
  end

  defp required_map!(j, key, what) do
    case required!(j, key, what) do
      %{} = value -> value
      other -> bad!("#{what} field #{inspect(key)}", other)
    end
  end

  defp bad!(what, value) do
    raise ArgumentError, "cannot decode #{what} from JSON value #{inspect(value)}"
  end

  # --- legacy tagged terms ----------------------------------------------------

  defp legacy?(%{"__type__" => _}), do: true
  defp legacy?(%{"__atom_keys__" => _}), do: true
  defp legacy?(%{"type" => @buffer, "data" => data}) when is_list(data), do: true
  defp legacy?(_json), do: false

  defp legacy_in(%{"__type__" => "struct", "module" => name, "value" => value}, allow) do
    module = allowed!(allow.modules, name, "module")
    struct(module, legacy_in(value, allow))
  end

  defp legacy_in(%{"__type__" => "map", "entries" => entries}, allow) do
    Map.new(entries, fn [k, v] -> {legacy_in(k, allow), legacy_in(v, allow)} end)
  end

  defp legacy_in(%{"__type__" => "tuple", "items" => items}, allow) do
    items |> Enum.map(&legacy_in(&1, allow)) |> List.to_tuple()
  end

  defp legacy_in(%{"__type__" => "atom", "value" => name}, allow) when is_binary(name),
    do: allowed!(allow.atoms, name, "atom")

  defp legacy_in(%{"type" => @buffer, "data" => data}, _allow) when is_list(data),
    do: :erlang.list_to_binary(data)

  defp legacy_in(%{} = map, allow) do
    {atom_keys, fields} = Map.pop(map, "__atom_keys__", [])

    Map.new(fields, fn {k, v} ->
      key = if k in atom_keys, do: allowed!(allow.atoms, k, "atom"), else: k
      {key, legacy_in(v, allow)}
    end)
  end

  defp legacy_in(list, allow) when is_list(list), do: Enum.map(list, &legacy_in(&1, allow))
  defp legacy_in(other, _allow), do: other

  defp allowed!(table, name, what) do
    case table do
      %{^name => value} ->
        value

      _ ->
        raise ArgumentError,
              "legacy JSON names the #{what} #{inspect(name)}, which is not allowed here"
    end
  end
end
