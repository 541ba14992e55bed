defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Creds do
  @moduledoc false
  # creds.json both ways: Baileys JS's camelCase `AuthenticationCreds`
  # (BufferJSON) and BaileysEx's snake_case creds JSON, which the NIF's JSON
  # codec turns into `%BaileysEx.Auth.State{}` exactly as BaileysEx's own
  # JSON backend loads it. See docs/BAILEYS_JS.md for every field.

  import BaileysEx.Auth.NIF.Tools.BaileysJS.Convert

  alias BaileysEx.Auth.NIF.Tools.BaileysJS.BufferJSON

  # {JS name, BaileysEx name, how}: values copied as they are, or as bytes.
  @plain [
    {"registrationId", "registration_id", :integer},
    {"advSecretKey", "adv_secret_key", :string},
    {"myAppStateKeyId", "my_app_state_key_id", :string},
    {"firstUnuploadedPreKeyId", "first_unuploaded_pre_key_id", :integer},
    {"nextPreKeyId", "next_pre_key_id", :integer},
    {"lastAccountSyncTimestamp", "last_account_sync_timestamp", :integer},
    {"platform", "platform", :string},
    {"accountSyncCounter", "account_sync_counter", :integer},
    {"registered", "registered", :boolean},
    {"pairingCode", "pairing_code", :string},
    {"lastPropHash", "last_prop_hash", :string},
    {"routingInfo", "routing_info", :bytes},
    {"additionalData", "additional_data", :json}
  ]

  @key_pairs [
    {"noiseKey", "noise_key"},
    {"pairingEphemeralKeyPair", "pairing_ephemeral_key"},
    {"signedIdentityKey", "signed_identity_key"}
  ]

  @structured ~w(signedPreKey me account signalIdentities processedHistoryMessages accountSettings)

  @known Enum.map(@plain, &elem(&1, 0)) ++ Enum.map(@key_pairs, &elem(&1, 0)) ++ @structured

  @account [
    {"details", "details"},
    {"accountSignatureKey", "account_signature_key"},
    {"accountSignature", "account_signature"},
    {"deviceSignature", "device_signature"}
  ]

  @message_key [
    {"remoteJid", "remote_jid"},
    {"remoteJidAlt", "remote_jid_alt"},
    {"participant", "participant"},
    {"participantAlt", "participant_alt"},
    {"fromMe", "from_me"},
    {"id", "id"},
    {"addressingMode", "addressing_mode"},
    {"serverId", "server_id"}
  ]

  @disappearing [
    {"ephemeralExpiration", "ephemeral_expiration"},
    {"ephemeralSettingTimestamp", "ephemeral_setting_timestamp"}
  ]

  @no_place "BaileysEx.Auth.State has no field for it"

  @doc "Baileys JS creds (decoded JSON) to BaileysEx's creds JSON."
  @spec to_ex(term()) :: map()
  def to_ex(js) do
    js = object(js, [])
    drop_unknown(js, @known, [], @no_place)

    plain =
      for {from, to, how} <- @plain, Map.has_key?(js, from), into: %{} do
        {to, plain_in(js[from], how, [from])}
      end

    pairs =
      for {from, to} <- @key_pairs,
          Map.has_key?(js, from),
          into: %{},
          do: {to, key_pair_in(js[from], [from])}

    plain
    |> Map.merge(pairs)
    |> put("signed_pre_key", signed_pre_key_in(js["signedPreKey"]))
    |> put("me", me_in(js["me"]))
    |> put("account", account_in(js["account"]))
    |> put("signal_identities", identities_in(js["signalIdentities"]))
    |> put("processed_history_messages", history_in(js["processedHistoryMessages"]))
    |> put("account_settings", settings_in(js["accountSettings"]))
  end

  @doc "BaileysEx's creds JSON (as the NIF writes it) to Baileys JS creds."
  @spec to_js(map()) :: map()
  def to_js(ex) do
    plain =
      for {to, from, how} <- @plain,
          ex[from] != nil,
          into: %{},
          do: {to, plain_out(ex[from], how, [from])}

    pairs =
      for {to, from} <- @key_pairs,
          ex[from] != nil,
          into: %{},
          do: {to, key_pair_out(ex[from], [from])}

    plain
    |> Map.merge(pairs)
    |> put("signedPreKey", signed_pre_key_out(ex["signed_pre_key"]))
    |> put("me", me_out(ex["me"]))
    |> put("account", account_out(ex["account"]))
    |> Map.put("signalIdentities", identities_out(ex["signal_identities"]))
    |> Map.put("processedHistoryMessages", history_out(ex["processed_history_messages"]))
    |> Map.put("accountSettings", settings_out(ex["account_settings"]))
    # initAuthCreds writes these two; a fresh BaileysEx state may hold nil.
    |> Map.put_new("registered", false)
    |> Map.put_new("accountSyncCounter", 0)
  end

  defp put(map, _key, nil), do: map
  defp put(map, key, value), do: Map.put(map, key, value)

  defp plain_in(nil, _how, _path), do: nil
  defp plain_in(value, :integer, path), do: integer(value, path)
  defp plain_in(value, :string, path), do: string(value, path)
  defp plain_in(value, :bytes, path), do: buffer(value, path)
  defp plain_in(value, :json, _path), do: value
  defp plain_in(value, :boolean, _path) when is_boolean(value), do: value
  defp plain_in(_value, :boolean, path), do: fail(path, :expected_boolean)

  defp plain_out(value, :bytes, path), do: buffer(value, path)
  defp plain_out(value, _how, _path), do: value

  defp key_pair_in(nil, _path), do: nil

  defp key_pair_in(pair, path) do
    pair = object(pair, path)
    drop_unknown(pair, ["public", "private"], path, "a key pair holds public and private only")

    %{
      "public" => buffer(pair["public"], path ++ ["public"]),
      "private" => buffer(pair["private"], path ++ ["private"])
    }
  end

  defp key_pair_out(pair, path) do
    pair = object(pair, path)

    %{
      "public" => buffer(pair["public"], path ++ ["public"]),
      "private" => buffer(pair["private"], path ++ ["private"])
    }
  end

  defp signed_pre_key_in(nil), do: nil

  defp signed_pre_key_in(spk) do
    path = ["signedPreKey"]
    spk = object(spk, path)
    drop_unknown(spk, ["keyPair", "keyId", "signature"], path, @no_place)

    %{
      "key_pair" => key_pair_in(spk["keyPair"], path ++ ["keyPair"]),
      "key_id" => integer(spk["keyId"], path ++ ["keyId"]),
      "signature" => buffer(spk["signature"], path ++ ["signature"])
    }
  end

  defp signed_pre_key_out(nil), do: nil

  defp signed_pre_key_out(spk) do
    path = ["signed_pre_key"]

    %{
      "keyPair" => key_pair_out(spk["key_pair"], path ++ ["key_pair"]),
      "keyId" => spk["key_id"],
      "signature" => buffer(spk["signature"], path ++ ["signature"])
    }
  end

  # `me` keeps every key: BaileysEx reads id, name and lid (and its own
  # device_id) as atoms and keeps Baileys' other contact fields (notify,
  # verifiedName, ...) under their JS names.
  defp me_in(nil), do: nil
  defp me_in(me), do: object(me, ["me"])

  defp me_out(nil), do: nil

  defp me_out(me) do
    if Map.has_key?(me, "device_id"),
      do: drop(["me", "device_id"], "Baileys JS's Contact has no device_id (it is in the jid)")

    Map.delete(me, "device_id")
  end

  # Baileys stores the decoded protobuf, which JSON.stringify writes through
  # protobufjs's toJSON: bytes as base64 strings, not Buffer objects.
  defp account_in(nil), do: nil

  defp account_in(account) do
    path = ["account"]
    account = object(account, path)
    drop_unknown(account, Enum.map(@account, &elem(&1, 0)), path, @no_place)

    for {from, to} <- @account, into: %{} do
      {to, buffer(Map.get(account, from, ""), path ++ [from])}
    end
  end

  defp account_out(nil), do: nil

  defp account_out(account) do
    for {to, from} <- @account,
        (bytes = bytes_of(account[from], ["account", from])) != "",
        into: %{},
        do: {to, Base.encode64(bytes)}
  end

  defp bytes_of(nil, _path), do: ""
  defp bytes_of(value, path), do: BufferJSON.bytes(value, path)

  defp identities_in(nil), do: nil

  defp identities_in(list) do
    list
    |> list(["signalIdentities"])
    |> Enum.with_index()
    |> Enum.map(fn {item, i} ->
      path = ["signalIdentities", "#{i}"]
      item = object(item, path)
      id = object(item["identifier"], path ++ ["identifier"])
      drop_unknown(item, ["identifier", "identifierKey"], path, @no_place)

      %{
        "identifier" => %{
          "name" => string(id["name"], path ++ ["identifier", "name"]),
          "device_id" => integer(id["deviceId"], path ++ ["identifier", "deviceId"])
        },
        "identifier_key" => buffer(item["identifierKey"], path ++ ["identifierKey"])
      }
    end)
  end

  defp identities_out(nil), do: []

  defp identities_out(list) do
    Enum.map(list, fn item ->
      %{
        "identifier" => %{
          "name" => item["identifier"]["name"],
          "deviceId" => item["identifier"]["device_id"]
        },
        "identifierKey" => buffer(item["identifier_key"], ["signal_identities"])
      }
    end)
  end

  defp history_in(nil), do: nil

  defp history_in(list) do
    list
    |> list(["processedHistoryMessages"])
    |> Enum.with_index()
    |> Enum.map(fn {item, i} ->
      path = ["processedHistoryMessages", "#{i}"]
      item = object(item, path)
      key = object(item["key"], path ++ ["key"])
      drop_unknown(item, ["key", "messageTimestamp"], path, "BaileysEx keeps key and timestamp")
      drop_unknown(key, Enum.map(@message_key, &elem(&1, 0)), path ++ ["key"], @no_place)

      %{
        "key" => for({from, to} <- @message_key, into: %{}, do: {to, key[from]}),
        "message_timestamp" => opt_integer(item["messageTimestamp"], path ++ ["messageTimestamp"])
      }
    end)
  end

  defp history_out(nil), do: []

  defp history_out(list) do
    Enum.map(list, fn item ->
      key =
        for {to, from} <- @message_key,
            item["key"][from] != nil,
            into: %{},
            do: {to, item["key"][from]}

      compact(%{"key" => key, "messageTimestamp" => item["message_timestamp"]})
    end)
  end

  defp settings_in(nil), do: nil

  defp settings_in(settings) do
    path = ["accountSettings"]
    settings = object(settings, path)
    drop_unknown(settings, ["unarchiveChats", "defaultDisappearingMode"], path, @no_place)

    mode =
      case settings["defaultDisappearingMode"] do
        nil -> nil
        mode -> rename(object(mode, path ++ ["defaultDisappearingMode"]), @disappearing)
      end

    %{
      "unarchive_chats" => settings["unarchiveChats"] == true,
      "default_disappearing_mode" => mode
    }
  end

  defp settings_out(nil), do: %{"unarchiveChats" => false}

  defp settings_out(settings) do
    mode =
      case settings["default_disappearing_mode"] do
        %{} = mode -> rename(mode, Enum.map(@disappearing, fn {a, b} -> {b, a} end))
        _ -> nil
      end

    compact(%{
      "unarchiveChats" => settings["unarchive_chats"] == true,
      "defaultDisappearingMode" => mode
    })
  end

  # Known keys renamed, others kept as they are.
  defp rename(map, names) do
    Map.new(map, fn {k, v} ->
      case List.keyfind(names, k, 0) do
        {_, to} -> {to, v}
        nil -> {k, v}
      end
    end)
  end
end
