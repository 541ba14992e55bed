defmodule BaileysEx.Auth.NIF.BaileysJSHarnessTest do
  # The Node harness against the real Baileys JS package: a folder it builds
  # holds every kind of material, dumps stably, and still works as a device.
  use BaileysEx.Auth.NIF.Test.BaileysJSCase, async: false

  alias BaileysEx.Auth.NIF.Test.{BaileysJS, BaileysJSCase}

  @device "15550001000:7@s.whatsapp.net"
  @group "120363000000000001@g.us"

  test "generate.mjs ran the real Baileys 6.17.16 and every exchange decrypted", %{
    summary: summary
  } do
    assert %{"ok" => true, "baileys" => "6.17.16", "checks" => checks} = summary
    assert length(checks) >= 10
  end

  test "the dump has paired creds", %{dump: %{"creds" => creds}} do
    assert %{"id" => @device, "lid" => "100000000000007:7@lid"} = creds["me"]
    assert creds["platform"] == "smba"

    assert %{"details" => details, "accountSignatureKey" => sig_key, "deviceSignature" => dev_sig} =
             creds["account"]

    assert hex?(details) and hex?(sig_key, 32) and hex?(dev_sig, 64)

    assert [%{"identifier" => %{"name" => @device}, "identifierKey" => "05" <> _ = key}] =
             creds["signalIdentities"]

    assert hex?(key, 33)

    assert hex?(creds["signedIdentityKey"]["private"], 32) and
             hex?(creds["signedIdentityKey"]["public"], 32)

    assert creds["nextPreKeyId"] == 31 and creds["firstUnuploadedPreKeyId"] == 31
  end

  test "the dump has pre-keys, sessions and sender keys", %{dump: %{"keys" => keys}} do
    pre_keys = Map.fetch!(keys, "pre-key")
    # 30 uploaded, two taken by the peers that opened sessions.
    assert map_size(pre_keys) == 28
    refute Map.has_key?(pre_keys, "1")

    assert Enum.all?(pre_keys, fn {_id, k} -> hex?(k["private"], 32) and hex?(k["public"], 32) end)

    sessions = Map.fetch!(keys, "session")
    assert map_size(sessions) >= 2
    assert Map.has_key?(sessions, "15550002003.4")
    entries = Enum.flat_map(sessions, fn {_id, by_base_key} -> Map.values(by_base_key) end)
    assert Enum.all?(entries, &hex?(&1["currentRatchet"]["rootKey"], 32))
    assert Enum.any?(entries, &match?(%{"pendingPreKey" => %{"preKeyId" => _}}, &1))

    skipped =
      for entry <- entries,
          {_, chain} <- entry["chains"],
          {_, key} <- chain["messageKeys"],
          do: key

    assert length(skipped) >= 2 and Enum.all?(skipped, &hex?(&1, 32))

    sender_keys = Map.fetch!(keys, "sender-key")
    assert %{"states" => [own]} = Map.fetch!(sender_keys, "#{@group}::15550001000::7")
    assert hex?(own["senderSigningKey"]["private"], 32)
    assert hex?(own["senderChainKey"]["seed"], 32)
    assert map_size(sender_keys) >= 2

    assert %{@group => memory} = Map.fetch!(keys, "sender-key-memory")
    assert memory["15550002003:4@s.whatsapp.net"] == true
  end

  test "the dump has app-state sync keys and a version", %{dump: dump} do
    keys = Map.fetch!(dump["keys"], "app-state-sync-key")

    assert %{"keyData" => data, "timestamp" => ts, "fingerprint" => %{"rawId" => _}} =
             keys[dump["creds"]["myAppStateKeyId"]]

    assert hex?(data, 32) and is_integer(ts)

    assert %{"regular_high" => %{"version" => 1, "hash" => hash}} =
             dump["keys"]["app-state-sync-version"]

    assert hex?(hash, 128)
  end

  test "dumping twice gives the same document", %{auth: auth, dump: dump} do
    assert BaileysJS.dump!(auth) == dump
  end

  test "peers and a new contact still talk to the untouched folder", %{auth: auth, peers: peers} do
    before = BaileysJSCase.files(auth)

    assert %{"ok" => true, "sessions" => 4, "groupSenders" => 2, "plaintexts" => texts} =
             BaileysJS.peer_decrypt!(auth, peers)

    assert "first message from a new contact" in texts
    assert BaileysJSCase.files(auth) == before
  end

  @tag :tmp_dir
  test "peer_decrypt fails when the folder lost its sessions", %{
    auth: auth,
    peers: peers,
    tmp_dir: tmp_dir
  } do
    copy = Path.join(tmp_dir, "auth")
    File.cp_r!(auth, copy)

    for name <- File.ls!(copy),
        String.starts_with?(name, "session-"),
        do: File.rm!(Path.join(copy, name))

    assert_raise RuntimeError, ~r/peer_decrypt\.mjs exited with status 1/, fn ->
      BaileysJS.peer_decrypt!(copy, peers)
    end
  end

  defp hex?(value, bytes \\ nil)
  defp hex?(value, nil), do: is_binary(value) and value =~ ~r/\A(?:[0-9a-f]{2})+\z/
  defp hex?(value, bytes), do: hex?(value) and byte_size(value) == 2 * bytes
end
