defmodule BaileysEx.Auth.NIF.Test.BaileysJSMaterial do
  @moduledoc """
  The key material of a BaileysEx auth directory in the canonical form that
  `test/baileys_js/dump.mjs` prints for a Baileys JS folder (camelCase
  names, binaries as lowercase hex, enums as libsignal's numbers), written
  independently of the converter under test so that the two can be held
  against each other.

  `of_dir/2` reads a directory through a persistence module;
  `comparable/1` takes from a dump what BaileysEx models, leaving out what
  only Baileys JS keeps (`@js_only` below, documented in the mapping doc).
  """

  @session_enum %{sending: 1, receiving: 2}

  @js_only_doc """
  session indexInfo.used and indexInfo.created (timestamps libsignal keeps
  for itself); sender-key message keys whose fields Baileys 6.x itself lost
  (dumped with null fields); app-state-sync-key fingerprint and timestamp
  (BaileysEx keeps only the key data)
  """

  @doc "What `comparable/1` leaves out of a dump: #{@js_only_doc}"
  @spec js_only() :: String.t()
  def js_only, do: @js_only_doc

  @doc """
  Reads the credentials and every listed key of `dir` through `module` (a
  drop-in) and returns the canonical document.
  """
  @spec of_dir(Path.t(), module()) :: map()
  def of_dir(dir, module) when is_binary(dir) and is_atom(module) do
    {:ok, state} = module.load_credentials(dir)
    {:ok, listed} = module.list_persisted_keys(dir)

    keys =
      for {type, ids} <- listed, ids != [], into: %{} do
        values =
          Map.new(ids, fn id ->
            {:ok, value} = module.load_keys(dir, type, id)
            {js_id(type, id), key(type, value)}
          end)

        {Atom.to_string(type), values}
      end

    %{"creds" => creds(state), "keys" => keys}
  end

  # The id Baileys JS recovers from the file name: both sides write `/` as
  # `__` and `:` as `-`, so a `:` in an id comes back as `-` (BaileysEx's
  # own listing can then name one file twice; both names are that file).
  defp js_id(type, id) do
    stem = id |> String.replace("/", "__") |> String.replace(":", "-")

    if type == :"sender-key",
      do: String.replace(stem, "--", "::"),
      else: String.replace(stem, "__", "/")
  end

  @doc "The parts of a `dump.mjs` document that BaileysEx models (see `js_only/0`)."
  @spec comparable(map()) :: map()
  def comparable(dump), do: dump |> usable() |> map_keys(&comparable_key/2)

  @doc """
  A `dump.mjs` document without the sender message keys Baileys 6.x itself
  stored without their fields (no one can use them): what a lossless round
  trip gives back.
  """
  @spec usable(map()) :: map()
  def usable(dump), do: map_keys(dump, &usable_key/2)

  defp map_keys(%{"creds" => creds, "keys" => keys}, fun) do
    keys =
      Map.new(keys, fn {type, values} ->
        {type, Map.new(values, fn {id, value} -> {id, fun.(type, value)} end)}
      end)

    %{"creds" => creds, "keys" => keys}
  end

  defp usable_key("sender-key", %{"states" => states}) do
    %{
      "states" =>
        Enum.map(states, fn state ->
          Map.update!(state, "senderMessageKeys", fn keys ->
            Enum.reject(keys, &(&1["iteration"] == nil and &1["seed"] == nil))
          end)
        end)
    }
  end

  defp usable_key(_type, value), do: value

  defp comparable_key("session", sessions) do
    Map.new(sessions, fn {base_key, session} ->
      {base_key, update_in(session["indexInfo"], &Map.drop(&1, ["used", "created"]))}
    end)
  end

  defp comparable_key("app-state-sync-key", value), do: Map.take(value, ["keyData"])
  defp comparable_key(_type, value), do: value

  @doc """
  The paths where two canonical documents differ, with both values: `[]`
  when they are equal. Makes a failing comparison readable.
  """
  @spec differences(term(), term()) :: [{[String.t()], term(), term()}]
  def differences(a, b), do: differences(a, b, [])

  defp differences(same, same, _path), do: []

  defp differences(%{} = a, %{} = b, path) do
    (Map.keys(a) ++ Map.keys(b))
    |> Enum.uniq()
    |> Enum.sort()
    |> Enum.flat_map(&differences(Map.get(a, &1, :absent), Map.get(b, &1, :absent), path ++ [&1]))
  end

  defp differences(a, b, path) when is_list(a) and is_list(b) and length(a) == length(b) do
    [a, b]
    |> Enum.zip()
    |> Enum.with_index()
    |> Enum.flat_map(fn {{x, y}, i} -> differences(x, y, path ++ [Integer.to_string(i)]) end)
  end

  defp differences(a, b, path), do: [{path, a, b}]

  # --- creds -------------------------------------------------------------

  defp creds(state) do
    s = Map.from_struct(state)

    %{
      "noiseKey" => pair(s.noise_key),
      "pairingEphemeralKeyPair" => pair(s.pairing_ephemeral_key),
      "signedIdentityKey" => pair(s.signed_identity_key),
      "signedPreKey" => signed_pre_key(s.signed_pre_key),
      "registrationId" => s.registration_id,
      "advSecretKey" => s.adv_secret_key,
      "me" => me(s.me),
      "account" => account(s.account),
      "signalIdentities" => Enum.map(s.signal_identities || [], &signal_identity/1),
      "platform" => s.platform,
      "nextPreKeyId" => s.next_pre_key_id,
      "firstUnuploadedPreKeyId" => s.first_unuploaded_pre_key_id,
      "accountSyncCounter" => s.account_sync_counter,
      "lastAccountSyncTimestamp" => s.last_account_sync_timestamp,
      "processedHistoryMessages" =>
        Enum.map(s.processed_history_messages || [], &history_message/1),
      "accountSettings" => account_settings(s.account_settings),
      "registered" => s.registered,
      "pairingCode" => s.pairing_code,
      "lastPropHash" => s.last_prop_hash,
      "routingInfo" => hex(s.routing_info),
      "myAppStateKeyId" => s.my_app_state_key_id,
      "additionalData" => json_safe(s.additional_data)
    }
    |> drop_nil()
  end

  defp pair(nil), do: nil

  defp pair(%{private: private, public: public}),
    do: %{"private" => hex(private), "public" => hex(public)}

  defp signed_pre_key(nil), do: nil

  defp signed_pre_key(%{key_id: id, key_pair: key_pair, signature: signature}),
    do: %{"keyId" => id, "keyPair" => pair(key_pair), "signature" => hex(signature)}

  defp me(nil), do: nil
  defp me(me), do: me |> Map.new(fn {k, v} -> {camel(k), v} end) |> drop_nil()

  defp account(nil), do: nil

  defp account(account) do
    %{
      "details" => hex(Map.get(account, :details)),
      "accountSignatureKey" => hex(Map.get(account, :account_signature_key)),
      "accountSignature" => hex(Map.get(account, :account_signature)),
      "deviceSignature" => hex(Map.get(account, :device_signature))
    }
    |> drop_nil()
  end

  defp signal_identity(%{identifier: %{name: name, device_id: device}, identifier_key: key}),
    do: %{"identifier" => %{"name" => name, "deviceId" => device}, "identifierKey" => hex(key)}

  defp history_message(%{key: key} = message) do
    key =
      key
      |> Map.new(fn
        {:addressing_mode, mode} when is_atom(mode) -> {"addressingMode", Atom.to_string(mode)}
        {k, v} -> {camel(k), v}
      end)
      |> drop_nil()

    drop_nil(%{"key" => key, "messageTimestamp" => message[:message_timestamp]})
  end

  defp account_settings(nil), do: nil

  defp account_settings(settings) do
    drop_nil(%{
      "unarchiveChats" => settings[:unarchive_chats],
      "defaultDisappearingMode" =>
        case settings[:default_disappearing_mode] do
          nil -> nil
          mode -> mode |> Map.new(fn {k, v} -> {camel(k), v} end) |> drop_nil()
        end
    })
  end

  # --- keys --------------------------------------------------------------

  defp key(:"pre-key", pair), do: pair(pair)
  defp key(:session, %{sessions: sessions}), do: Map.new(sessions, &session/1)

  defp key(:"sender-key", %{sender_key_states: states}),
    do: %{"states" => Enum.map(states, &sender_state/1)}

  defp key(:"app-state-sync-key", data) when is_binary(data), do: %{"keyData" => hex(data)}
  defp key(:"app-state-sync-key", %{key_data: data}), do: %{"keyData" => hex(data)}

  defp key(:"app-state-sync-version", %{hash: hash, index_value_map: map, version: version}) do
    %{
      "hash" => hex(hash),
      "indexValueMap" =>
        Map.new(map, fn {k, %{value_mac: mac}} -> {k, %{"valueMac" => hex(mac)}} end),
      "version" => version
    }
  end

  defp key(:tctoken, %{} = token) do
    drop_nil(%{
      "token" => hex(token[:token]),
      "timestamp" => token[:timestamp],
      "senderTimestamp" => token[:sender_timestamp]
    })
  end

  defp key(:"identity-key", key) when is_binary(key), do: hex(key)
  defp key(:"identity-key", %{} = keys), do: Map.new(keys, fn {k, v} -> {k, hex(v)} end)
  defp key(_type, value), do: value

  defp session({base_key, s}) do
    ratchet = s.current_ratchet
    info = s.index_info

    {hex(base_key),
     %{
       "registrationId" => s.registration_id,
       "currentRatchet" => %{
         "ephemeralKeyPair" => %{
           "privKey" => hex(ratchet.ephemeral_key_pair.private),
           "pubKey" => hex(ratchet.ephemeral_key_pair.public)
         },
         "lastRemoteEphemeralKey" => hex(ratchet.last_remote_ephemeral),
         "previousCounter" => ratchet.previous_counter,
         "rootKey" => hex(ratchet.root_key)
       },
       "indexInfo" => %{
         "baseKey" => hex(info.base_key),
         "baseKeyType" => Map.fetch!(@session_enum, info.base_key_type),
         "closed" => info.closed || -1,
         "remoteIdentityKey" => hex(info.remote_identity_key)
       },
       "chains" => Map.new(s.chains, &chain/1),
       "pendingPreKey" => pending_pre_key(s.pending_pre_key)
     }}
  end

  # BaileysEx keys chains by the ratchet key's base64 text and counts the
  # message key it derives next; libsignal by the key's bytes and counts the
  # last one it derived (-1 for a fresh chain).
  # (A record built by hand may key it by the raw bytes instead.)
  defp chain({ratchet_key, chain}) do
    {hex(Base.decode64(ratchet_key) |> elem_or(ratchet_key)),
     %{
       "chainKey" => %{
         "counter" => chain.chain_key.counter - 1,
         "key" => hex(chain.chain_key.key)
       },
       "chainType" => Map.fetch!(@session_enum, chain.chain_type),
       "messageKeys" =>
         Map.new(chain.message_keys, fn {n, k} -> {Integer.to_string(n), hex(k)} end)
     }}
  end

  defp pending_pre_key(nil), do: nil

  defp pending_pre_key(pending) do
    drop_nil(%{
      "baseKey" => hex(pending.base_key),
      "preKeyId" => pending[:pre_key_id],
      "signedKeyId" => pending.signed_pre_key_id
    })
  end

  defp sender_state(state) do
    %{
      "senderKeyId" => state.sender_key_id,
      "senderChainKey" => %{
        "iteration" => state.sender_chain_key.iteration,
        "seed" => hex(state.sender_chain_key.seed)
      },
      "senderSigningKey" => %{
        "public" => hex(state.sender_signing_key.public),
        "private" => hex(state.sender_signing_key[:private])
      },
      "senderMessageKeys" =>
        Enum.map(
          state.sender_message_keys,
          &%{"iteration" => &1.iteration, "seed" => hex(&1.seed)}
        )
    }
  end

  # --- helpers -----------------------------------------------------------

  # BaileysEx's JSON-safe values as Baileys JS reads them back: a binary
  # that is printable text is a string, any other one bytes.
  defp json_safe(%{} = map), do: Map.new(map, fn {k, v} -> {to_string(k), json_safe(v)} end)
  defp json_safe(list) when is_list(list), do: Enum.map(list, &json_safe/1)

  defp json_safe(bin) when is_binary(bin),
    do: if(String.printable?(bin), do: bin, else: hex(bin))

  defp json_safe(other), do: other

  defp hex(nil), do: nil
  defp hex(bin) when is_binary(bin), do: Base.encode16(bin, case: :lower)

  defp camel(key) do
    [first | rest] = key |> to_string() |> String.split("_")
    Enum.join([first | Enum.map(rest, &String.capitalize/1)])
  end

  defp elem_or({:ok, value}, _default), do: value
  defp elem_or(:error, default), do: default

  defp drop_nil(map), do: for({k, v} <- map, v != nil, into: %{}, do: {k, v})
end
