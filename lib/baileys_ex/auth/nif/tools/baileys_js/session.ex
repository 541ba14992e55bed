defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Session do
  @moduledoc false
  # Session records both ways: libsignal-node's `SessionRecord#serialize()`
  # (`{_sessions: {b64(baseKey): entry}, version: "v1"}`, keys as base64
  # strings, enums as 1/2, open as closed -1, chain counters one below
  # BaileysEx's) and BaileysEx's session JSON (`{sessions: ...}`, Buffers),
  # which the NIF decodes into `%BaileysEx.Signal.SessionRecord{}`.
  #
  # Counters: libsignal's chainKey.counter is the index of the last message
  # key it derived (-1 for a new chain) and chainKey.key derives index
  # counter + 1; BaileysEx's counter is the index its key derives next
  # (0 for a new chain). Same key, counter + 1. Message-key indexes and
  # previousCounter mean the same on both sides and are copied.

  import BaileysEx.Auth.NIF.Tools.BaileysJS.Convert

  @entry_keys ~w(registrationId currentRatchet indexInfo _chains pendingPreKey)
  @index_keys ~w(baseKey baseKeyType closed used created remoteIdentityKey)

  @doc """
  libsignal's record to BaileysEx's session JSON. `local_identity` is our
  identity public key with its 0x05 prefix (from creds): libsignal does not
  store it per session, BaileysEx does.
  """
  @spec to_ex(term(), binary()) :: map()
  def to_ex(js, local_identity) do
    js = object(js, [])
    drop_unknown(js, ["_sessions", "version"], [], "not part of a libsignal record")

    sessions =
      for {base_key, entry} <- object(Map.get(js, "_sessions", %{}), ["_sessions"]), into: %{} do
        path = ["_sessions", base_key]
        # Validates the key: BaileysEx keys sessions by the raw base key.
        _ = base64(base_key, path)
        {base_key, entry_in(object(entry, path), local_identity, path)}
      end

    %{"sessions" => sessions}
  end

  defp entry_in(entry, local_identity, path) do
    drop_unknown(entry, @entry_keys, path, "not part of a libsignal session entry")
    ratchet = object(entry["currentRatchet"], path ++ ["currentRatchet"])
    index = object(entry["indexInfo"], path ++ ["indexInfo"])
    pair = object(ratchet["ephemeralKeyPair"], path ++ ["currentRatchet", "ephemeralKeyPair"])
    drop_unknown(index, @index_keys, path ++ ["indexInfo"], "not part of libsignal's indexInfo")

    for key <- ["used", "created"], Map.has_key?(index, key) do
      drop(
        Enum.take(path, 1) ++ ["*", "indexInfo", key],
        "BaileysEx sessions keep no #{key} time"
      )
    end

    %{
      "registration_id" => integer(entry["registrationId"], path ++ ["registrationId"]),
      "current_ratchet" => %{
        "ephemeral_key_pair" => %{
          "public" => buffer(pair["pubKey"], path ++ ["ephemeralKeyPair", "pubKey"]),
          "private" => buffer(pair["privKey"], path ++ ["ephemeralKeyPair", "privKey"])
        },
        "last_remote_ephemeral" =>
          buffer(ratchet["lastRemoteEphemeralKey"], path ++ ["lastRemoteEphemeralKey"]),
        "previous_counter" => integer(ratchet["previousCounter"], path ++ ["previousCounter"]),
        "root_key" => buffer(ratchet["rootKey"], path ++ ["rootKey"])
      },
      "index_info" => %{
        "base_key" => buffer(index["baseKey"], path ++ ["indexInfo", "baseKey"]),
        "base_key_type" =>
          direction_in(index["baseKeyType"], path ++ ["indexInfo", "baseKeyType"]),
        "closed" => closed_in(index["closed"], path ++ ["indexInfo", "closed"]),
        "local_identity_key" => %{"type" => "Buffer", "data" => Base.encode64(local_identity)},
        "remote_identity_key" =>
          buffer(index["remoteIdentityKey"], path ++ ["indexInfo", "remoteIdentityKey"])
      },
      "chains" => chains_in(Map.get(entry, "_chains", %{}), path ++ ["_chains"]),
      "pending_pre_key" => pending_in(entry["pendingPreKey"], path ++ ["pendingPreKey"])
    }
  end

  # BaileysEx keys chains by the base64 text itself (libsignal's key); its
  # JSON writes a binary map key as base64, hence the second encoding.
  defp chains_in(chains, path) do
    for {key, chain} <- object(chains, path), into: %{} do
      path = path ++ [key]
      _ = base64(key, path)
      chain = object(chain, path)
      chain_key = object(chain["chainKey"], path ++ ["chainKey"])
      drop_unknown(chain, ["chainKey", "chainType", "messageKeys"], path, "not part of a chain")

      message_keys =
        for {index, mk} <- object(Map.get(chain, "messageKeys", %{}), path ++ ["messageKeys"]),
            into: %{} do
          {Integer.to_string(integer(index, path ++ ["messageKeys", index])),
           buffer(mk, path ++ ["messageKeys", index])}
        end

      {Base.encode64(key),
       %{
         "chain_key" => %{
           "counter" => integer(chain_key["counter"], path ++ ["chainKey", "counter"]) + 1,
           "key" => opt_buffer(chain_key["key"], path ++ ["chainKey", "key"])
         },
         "chain_type" => direction_in(chain["chainType"], path ++ ["chainType"]),
         "message_keys" => message_keys
       }}
    end
  end

  defp pending_in(nil, _path), do: nil

  defp pending_in(pending, path) do
    pending = object(pending, path)

    drop_unknown(
      pending,
      ["baseKey", "preKeyId", "signedKeyId"],
      path,
      "not part of pendingPreKey"
    )

    %{
      "base_key" => buffer(pending["baseKey"], path ++ ["baseKey"]),
      "pre_key_id" => opt_integer(pending["preKeyId"], path ++ ["preKeyId"]),
      "signed_pre_key_id" => integer(pending["signedKeyId"], path ++ ["signedKeyId"])
    }
  end

  # BaseKeyType OURS/THEIRS and ChainType SENDING/RECEIVING are both 1/2.
  defp direction_in(1, _path), do: "sending"
  defp direction_in(2, _path), do: "receiving"
  defp direction_in(_other, path), do: fail(path, :expected_1_or_2)

  defp closed_in(-1, _path), do: nil
  defp closed_in(value, path), do: integer(value, path)

  @doc "BaileysEx's session JSON (as the NIF writes it) to libsignal's record."
  @spec to_js(map()) :: map()
  def to_js(ex) do
    sessions =
      for {base_key, entry} <- Map.get(ex, "sessions", %{}), into: %{} do
        path = ["sessions", base_key]
        {base_key, entry_out(entry, path)}
      end

    %{"_sessions" => sessions, "version" => "v1"}
  end

  defp entry_out(entry, path) do
    ratchet = object(entry["current_ratchet"], path ++ ["current_ratchet"])
    index = object(entry["index_info"], path ++ ["index_info"])

    pair =
      object(ratchet["ephemeral_key_pair"], path ++ ["current_ratchet", "ephemeral_key_pair"])

    compact(%{
      "registrationId" => entry["registration_id"],
      "currentRatchet" => %{
        "ephemeralKeyPair" => %{
          "pubKey" => base64(pair["public"], path ++ ["ephemeral_key_pair", "public"]),
          "privKey" => base64(pair["private"], path ++ ["ephemeral_key_pair", "private"])
        },
        "lastRemoteEphemeralKey" =>
          base64(ratchet["last_remote_ephemeral"], path ++ ["last_remote_ephemeral"]),
        "previousCounter" => ratchet["previous_counter"],
        "rootKey" => base64(ratchet["root_key"], path ++ ["root_key"])
      },
      "indexInfo" => %{
        "baseKey" => base64(index["base_key"], path ++ ["index_info", "base_key"]),
        "baseKeyType" => direction_out(index["base_key_type"], path),
        "closed" => if(index["closed"] == nil, do: -1, else: index["closed"]),
        "remoteIdentityKey" =>
          base64(index["remote_identity_key"], path ++ ["index_info", "remote_identity_key"])
      },
      "_chains" => chains_out(Map.get(entry, "chains", %{}), path ++ ["chains"]),
      "pendingPreKey" => pending_out(entry["pending_pre_key"], path)
    })
  end

  defp chains_out(chains, path) do
    for {key, chain} <- chains, into: %{} do
      js_key = chain_key_text(BaileysEx.Auth.NIF.Tools.BaileysJS.BufferJSON.bytes(key, path))
      counter = chain["chain_key"]["counter"]

      {js_key,
       %{
         "chainKey" =>
           compact(%{
             "counter" => if(is_integer(counter), do: counter - 1, else: counter),
             "key" => chain["chain_key"]["key"] && base64(chain["chain_key"]["key"], path)
           }),
         "chainType" => direction_out(chain["chain_type"], path),
         "messageKeys" =>
           Map.new(chain["message_keys"] || %{}, fn {i, mk} -> {i, base64(mk, path)} end)
       }}
    end
  end

  # BaileysEx's own code keys a chain by the ratchet key's base64 text; a
  # record built by hand may key it by the raw 33 bytes, which are never
  # valid padded base64, so the two cannot be confused.
  defp chain_key_text(key) do
    case Base.decode64(key) do
      {:ok, _bytes} -> key
      :error -> Base.encode64(key)
    end
  end

  defp pending_out(nil, _path), do: nil

  defp pending_out(pending, path) do
    compact(%{
      "baseKey" => base64(pending["base_key"], path ++ ["pending_pre_key", "base_key"]),
      "preKeyId" => pending["pre_key_id"],
      "signedKeyId" => pending["signed_pre_key_id"]
    })
  end

  defp direction_out("sending", _path), do: 1
  defp direction_out("receiving", _path), do: 2
  defp direction_out(_other, path), do: fail(path, :expected_sending_or_receiving)
end
