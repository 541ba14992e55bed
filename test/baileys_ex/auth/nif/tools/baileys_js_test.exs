defmodule BaileysEx.Auth.NIF.Tools.BaileysJSTest do
  @moduledoc """
  `Tools.import_baileys/3` and `Tools.export_baileys/3` over hand-made
  Baileys JS folders (written here in the shapes Baileys 6.17.16 and
  libsignal 6.0.0 write), for both BaileysEx formats: the terms BaileysEx
  loads, import -> export -> import equality, the JS files export writes,
  the report's unmapped list, and bad input that leaves nothing behind.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.JSON

  @modules %{
    etf: BaileysEx.Auth.NIF.NativeFilePersistence,
    json: BaileysEx.Auth.NIF.FilePersistence
  }

  defp bytes(n, seed), do: :crypto.hash(:sha512, "#{seed}") |> binary_part(0, n)
  defp buf(b), do: %{"type" => "Buffer", "data" => Base.encode64(b)}
  defp b64(b), do: Base.encode64(b)
  defp pub33(seed), do: <<5>> <> bytes(32, seed)

  defp creds do
    %{
      "noiseKey" => %{"private" => buf(bytes(32, 1)), "public" => buf(bytes(32, 2))},
      "pairingEphemeralKeyPair" => %{
        "private" => buf(bytes(32, 3)),
        "public" => buf(bytes(32, 4))
      },
      "signedIdentityKey" => %{"private" => buf(bytes(32, 5)), "public" => buf(bytes(32, 6))},
      "signedPreKey" => %{
        "keyPair" => %{"private" => buf(bytes(32, 7)), "public" => buf(bytes(32, 8))},
        "signature" => buf(bytes(64, 9)),
        "keyId" => 1
      },
      "registrationId" => 1234,
      "advSecretKey" => b64(bytes(32, 10)),
      "processedHistoryMessages" => [
        %{
          "key" => %{
            "remoteJid" => "15550001111@s.whatsapp.net",
            "fromMe" => true,
            "id" => "3EB0AA"
          },
          "messageTimestamp" => 1_700_000_000
        }
      ],
      "nextPreKeyId" => 31,
      "firstUnuploadedPreKeyId" => 31,
      "accountSyncCounter" => 1,
      "accountSettings" => %{"unarchiveChats" => false},
      "registered" => true,
      "pairingCode" => "ABCD1234",
      "lastPropHash" => "3R8XlO",
      "routingInfo" => buf(bytes(20, 11)),
      "me" => %{"id" => "15550001000:7@s.whatsapp.net", "name" => "Bot", "lid" => "9999:7@lid"},
      "account" => %{
        "details" => b64(bytes(40, 12)),
        "accountSignatureKey" => b64(bytes(32, 13)),
        "accountSignature" => b64(bytes(64, 14)),
        "deviceSignature" => b64(bytes(64, 15))
      },
      "signalIdentities" => [
        %{
          "identifier" => %{"name" => "15550001000:7@s.whatsapp.net", "deviceId" => 0},
          "identifierKey" => buf(pub33(16))
        }
      ],
      "platform" => "smba",
      "myAppStateKeyId" => "AAAAABEg",
      "lastAccountSyncTimestamp" => 1_700_000_500
    }
  end

  defp session do
    open_base = b64(pub33(20))
    closed_base = b64(pub33(30))

    entry = fn base, closed, chains, pending ->
      %{
        "registrationId" => 37,
        "currentRatchet" => %{
          "ephemeralKeyPair" => %{"pubKey" => b64(pub33(base)), "privKey" => b64(bytes(32, base))},
          "lastRemoteEphemeralKey" => b64(pub33(base <> "r")),
          "previousCounter" => 2,
          "rootKey" => b64(bytes(32, base <> "root"))
        },
        "indexInfo" => %{
          "baseKey" => base,
          "baseKeyType" => if(pending, do: 1, else: 2),
          "closed" => closed,
          "remoteIdentityKey" => b64(pub33(41))
        },
        "_chains" => chains
      }
      |> then(&if(pending, do: Map.put(&1, "pendingPreKey", pending), else: &1))
    end

    %{
      "_sessions" => %{
        open_base =>
          entry.(
            open_base,
            -1,
            %{
              b64(pub33(50)) => %{
                "chainKey" => %{"counter" => -1, "key" => b64(bytes(32, 51))},
                "chainType" => 1,
                "messageKeys" => %{}
              },
              b64(pub33(52)) => %{
                "chainKey" => %{"counter" => 3, "key" => b64(bytes(32, 53))},
                "chainType" => 2,
                "messageKeys" => %{"1" => b64(bytes(32, 54)), "2" => b64(bytes(32, 55))}
              }
            },
            %{"signedKeyId" => 1, "baseKey" => open_base, "preKeyId" => 2}
          ),
        closed_base =>
          entry.(
            closed_base,
            1_700_000_000_000,
            %{
              b64(pub33(60)) => %{
                "chainKey" => %{"counter" => 0},
                "chainType" => 2,
                "messageKeys" => %{}
              }
            },
            nil
          )
      },
      "version" => "v1"
    }
  end

  defp sender_key do
    [
      %{
        "senderKeyId" => 2_047_904_721,
        "senderChainKey" => %{"iteration" => 5, "seed" => b64(bytes(32, 70))},
        "senderSigningKey" => %{"public" => b64(pub33(71)), "private" => b64(bytes(32, 72))},
        "senderMessageKeys" => [%{"iteration" => 3, "seed" => buf(bytes(32, 73))}]
      }
    ]
  end

  defp folder(dir, extra \\ %{}) do
    File.mkdir_p!(dir)

    files =
      Map.merge(
        %{
          "creds.json" => creds(),
          "pre-key-2.json" => %{"private" => buf(bytes(32, 80)), "public" => buf(bytes(32, 81))},
          "session-15550002001.0.json" => session(),
          "sender-key-120363000000000001@g.us--15550002001--0.json" => sender_key(),
          "sender-key-memory-120363000000000001@g.us.json" => %{
            "15550002001:0@s.whatsapp.net" => true
          },
          "app-state-sync-key-AAAAABEg.json" => %{"keyData" => b64(bytes(32, 90))},
          "app-state-sync-key-AAAA__+8x.json" => %{"keyData" => b64(bytes(32, 91))},
          "app-state-sync-version-regular_high.json" => %{
            "version" => 3,
            "hash" => buf(bytes(64, 92) <> bytes(64, 96)),
            "indexValueMap" => %{b64(bytes(32, 93)) => %{"valueMac" => buf(bytes(32, 94))}}
          },
          "lid-mapping-15550002001.json" => "9999",
          "device-list-15550002001.json" => ["0", "4"],
          "tctoken-15550002001@s.whatsapp.net.json" => %{
            "token" => buf(bytes(20, 95)),
            "timestamp" => "1700000000"
          }
        },
        extra
      )

    for {name, value} <- files, do: File.write!(Path.join(dir, name), JSON.encode(value))
    dir
  end

  defp js_files(dir) do
    for name <- File.ls!(dir), into: %{} do
      {:ok, value} = JSON.decode(File.read!(Path.join(dir, name)))
      {name, value}
    end
  end

  defp loaded(module, dir) do
    {:ok, keys} = module.list_persisted_keys(dir)
    {:ok, creds} = module.load_credentials(dir)

    for {type, ids} <- keys, id <- ids, into: %{creds: creds} do
      {:ok, value} = module.load_keys(dir, type, id)
      {{type, id}, value}
    end
  end

  for to <- [:etf, :json] do
    @to to

    @tag :tmp_dir
    test "#{to}: import loads as the device Baileys JS holds; export gives Baileys' files back",
         %{tmp_dir: tmp} do
      module = @modules[@to]
      src = folder(Path.join(tmp, "js"))
      before = js_files(src)

      assert {:ok, report} = Tools.import_baileys(src, Path.join(tmp, "ex"), to: @to)
      assert js_files(src) == before
      assert report.keys == 10 and report.creds?
      assert report.per_type[:session] == 1 and report.per_type[:"app-state-sync-key"] == 2
      assert report.inexact == []
      assert :"identity-key" in report.absent
      assert Enum.sort(report.baileys_7_types) == [:"device-list", :"lid-mapping", :tctoken]

      ex = loaded(module, Path.join(tmp, "ex"))
      creds = ex.creds
      assert creds.registration_id == 1234
      assert creds.noise_key == %{private: bytes(32, 1), public: bytes(32, 2)}
      assert creds.signed_pre_key.key_id == 1
      assert creds.account.details == bytes(40, 12)
      assert creds.me.id == "15550001000:7@s.whatsapp.net"
      assert [%{identifier: %{device_id: 0}}] = creds.signal_identities

      %{sessions: sessions} = ex[{:session, "15550002001.0"}]
      open = sessions[pub33(20)]
      assert open.index_info.closed == nil
      assert open.index_info.base_key_type == :sending
      assert open.index_info.local_identity_key == <<5>> <> bytes(32, 6)
      assert open.pending_pre_key == %{base_key: pub33(20), pre_key_id: 2, signed_pre_key_id: 1}
      sending = open.chains[b64(pub33(50))]
      assert sending.chain_key == %{counter: 0, key: bytes(32, 51)}
      receiving = open.chains[b64(pub33(52))]
      assert receiving.chain_type == :receiving and receiving.chain_key.counter == 4
      assert receiving.message_keys == %{1 => bytes(32, 54), 2 => bytes(32, 55)}
      closed = sessions[pub33(30)]
      assert closed.index_info.closed == 1_700_000_000_000
      assert closed.chains[b64(pub33(60))].chain_key == %{counter: 1, key: nil}

      [state] = ex[{:"sender-key", "120363000000000001@g.us::15550002001::0"}].sender_key_states

      assert state.sender_chain_key.seed == bytes(32, 70) and
               state.sender_chain_key.iteration == 5

      assert [%{iteration: 3, seed: seed}] = state.sender_message_keys
      assert seed == bytes(32, 73)
      assert ex[{:"app-state-sync-key", "AAAA/+8x"}] == %{key_data: bytes(32, 91)}
      assert ex[{:"lid-mapping", "15550002001"}] == "9999"

      unmapped = Enum.map(report.unmapped, &{&1.file, &1.field})
      assert {"session-15550002001.0.json", "_sessions.*.indexInfo.used"} not in unmapped

      # Export, then import what it wrote: the same terms.
      assert {:ok, out} = Tools.export_baileys(Path.join(tmp, "ex"), Path.join(tmp, "js2"))
      assert out.from == @to and out.keys == 10 and out.inexact == []

      assert {:ok, _} =
               Tools.import_baileys(Path.join(tmp, "js2"), Path.join(tmp, "ex2"), to: @to)

      assert loaded(module, Path.join(tmp, "ex2")) == ex

      # The exported files are what Baileys wrote.
      written = js_files(Path.join(tmp, "js2"))
      assert Map.keys(written) == Map.keys(before)
      for {name, value} <- before, do: assert({name, written[name]} == {name, value})
    end

    @tag :tmp_dir
    test "#{to}: fields BaileysEx has no place for are listed, not silently lost", %{tmp_dir: tmp} do
      stamped =
        update_in(session(), ["_sessions"], fn s ->
          Map.new(s, fn {k, v} -> {k, put_in(v, ["indexInfo", "used"], 1_796_148_645_259)} end)
        end)

      src =
        folder(Path.join(tmp, "js"), %{
          "creds.json" => Map.put(creds(), "someFutureField", 1),
          "session-15550002001.0.json" => stamped,
          "app-state-sync-key-AAAAABEg.json" => %{
            "keyData" => b64(bytes(32, 90)),
            "fingerprint" => %{"rawId" => 1, "currentIndex" => 1, "deviceIndexes" => [0]},
            "timestamp" => "1700000201"
          },
          "sender-key-120363000000000001@g.us--15550002001--0.json" => [
            put_in(hd(sender_key()), ["senderMessageKeys"], [%{}, %{}])
          ],
          "notes.txt" => "x"
        })

      assert {:ok, report} = Tools.import_baileys(src, Path.join(tmp, "ex"), to: @to)
      unmapped = Enum.map(report.unmapped, &{&1.file, &1.field})
      assert {"creds.json", "someFutureField"} in unmapped

      extras = [
        {"session-15550002001.0.json", "_sessions.*.indexInfo.used"},
        {"app-state-sync-key-AAAAABEg.json", "fingerprint"},
        {"app-state-sync-key-AAAAABEg.json", "timestamp"}
      ]

      if @to == :json do
        # BaileysEx's JSON format has no place for Baileys' own extras.
        for extra <- extras, do: assert(extra in unmapped)
      else
        # ETF keeps them beside what BaileysEx reads.
        for extra <- extras, do: refute(extra in unmapped)
        module = @modules[@to]
        dir = Path.join(tmp, "ex")
        {:ok, key} = module.load_keys(dir, :"app-state-sync-key", "AAAAABEg")

        fingerprint = %{"rawId" => 1, "currentIndex" => 1, "deviceIndexes" => [0]}
        assert %{"fingerprint" => ^fingerprint, "timestamp" => 1_700_000_201} = key
        {:ok, %{sessions: sessions}} = module.load_keys(dir, :session, "15550002001.0")
        assert Enum.all?(Map.values(sessions), &(&1.index_info["used"] == 1_796_148_645_259))
      end

      assert {"sender-key-120363000000000001@g.us--15550002001--0.json", "0.senderMessageKeys.*"} in unmapped

      assert {"notes.txt", nil} in unmapped
      assert Enum.all?(report.unmapped, &is_binary(&1.why))
    end

    @tag :tmp_dir
    test "#{to}: bad input is an error naming the file, and nothing is left at DST",
         %{tmp_dir: tmp} do
      cases = [
        {%{"pre-key-2.json" => :raw}, "pre-key-2.json"},
        {%{"session-15550002001.0.json" => %{"_sessions" => %{"x" => %{}}}},
         "session-15550002001.0.json"},
        {%{"app-state-sync-key-AAAAABEg.json" => %{"keyData" => "!!not base64!!"}},
         "app-state-sync-key-AAAAABEg.json"},
        {%{"creds.json" => put_in(creds(), ["signedPreKey", "keyId"], "one")}, "creds.json"},
        {%{"creds.json" => [1, 2]}, "creds.json"}
      ]

      for {{extra, file}, i} <- Enum.with_index(cases) do
        src = Path.join(tmp, "js#{i}")
        raw = for {name, :raw} <- extra, into: %{}, do: {name, nil}
        folder(src, Map.drop(extra, Map.keys(raw)))
        for {name, _} <- raw, do: File.write!(Path.join(src, name), "{\"private\": ")
        dst = Path.join(tmp, "ex#{i}")

        assert {:error, reason} = Tools.import_baileys(src, dst, to: @to)
        assert file in Tuple.to_list(reason), inspect(reason)
        refute File.exists?(dst)
        assert Enum.filter(File.ls!(tmp), &String.starts_with?(&1, ".ex#{i}.")) == []
      end
    end
  end

  # Baileys 7.x's storeSenderKey: a Buffer of the UTF-8 JSON text of the
  # states, in which every byte field is Node's `{type, data: [byte, ...]}`.
  defp node_buf(b), do: %{"type" => "Buffer", "data" => :binary.bin_to_list(b)}

  defp v7_text(states), do: buf(IO.iodata_to_binary(JSON.encode(states)))

  defp v7_states do
    [
      %{
        "senderKeyId" => 2_047_904_721,
        "senderChainKey" => %{"iteration" => 5, "seed" => node_buf(bytes(32, 70))},
        "senderSigningKey" => %{
          "public" => node_buf(pub33(71)),
          "private" => node_buf(bytes(32, 72))
        },
        "senderMessageKeys" => [%{"iteration" => 3, "seed" => node_buf(bytes(32, 73))}]
      }
    ]
  end

  # Another member's state, as 7.x stores it: an empty private key.
  defp v7_member_states do
    [
      %{
        "senderKeyId" => 77,
        "senderChainKey" => %{"iteration" => 0, "seed" => node_buf(bytes(32, 74))},
        "senderSigningKey" => %{"public" => node_buf(pub33(75)), "private" => node_buf("")},
        "senderMessageKeys" => []
      }
    ]
  end

  @own_v7 "sender-key-120363000000000001@g.us--15550002001--0.json"
  @member_v7 "sender-key-120363000000000001@g.us--15550002002--0.json"

  defp v7_text_states(%{"type" => "Buffer", "data" => data}) do
    {:ok, states} = JSON.decode(Base.decode64!(data))
    states
  end

  for to <- [:etf, :json] do
    @to to

    @tag :tmp_dir
    test "#{to}: 7.x sender keys (a Buffer of JSON text) import, and export writes either shape",
         %{tmp_dir: tmp} do
      module = @modules[@to]
      v6 = folder(Path.join(tmp, "v6"))

      v7 =
        folder(Path.join(tmp, "v7"), %{
          @own_v7 => v7_text(v7_states()),
          @member_v7 => v7_text(v7_member_states())
        })

      assert {:ok, _} = Tools.import_baileys(v6, Path.join(tmp, "ex6"), to: @to)
      assert {:ok, report} = Tools.import_baileys(v7, Path.join(tmp, "ex7"), to: @to)
      assert report.per_type[:"sender-key"] == 2 and report.inexact == []
      refute Enum.any?(report.unmapped, &String.starts_with?(&1.file, "sender-key-"))

      # The same record as the 6.x list gives, message key included.
      ex6 = loaded(module, Path.join(tmp, "ex6"))
      ex7 = loaded(module, Path.join(tmp, "ex7"))
      own = {:"sender-key", "120363000000000001@g.us::15550002001::0"}
      assert ex7[own] == ex6[own]
      assert [%{sender_message_keys: [%{iteration: 3}]}] = ex7[own].sender_key_states

      member = {:"sender-key", "120363000000000001@g.us::15550002002::0"}
      assert [state] = ex7[member].sender_key_states
      assert state.sender_key_id == 77 and state.sender_chain_key.seed == bytes(32, 74)
      assert state.sender_signing_key[:private] == nil

      # Export for 7.x writes 7.x's shape; the default is 6.x's list.
      ex = Path.join(tmp, "ex7")
      assert {:ok, out7} = Tools.export_baileys(ex, Path.join(tmp, "js7"), baileys: 7)
      assert out7.baileys == 7 and out7.inexact == [] and out7.keys == 11
      assert {:ok, out6} = Tools.export_baileys(ex, Path.join(tmp, "js6"))
      assert out6.baileys == 6 and out6.inexact == []

      js7 = js_files(Path.join(tmp, "js7"))
      js6 = js_files(Path.join(tmp, "js6"))
      assert v7_text_states(js7[@own_v7]) == v7_states()
      assert v7_text_states(js7[@member_v7]) == v7_member_states()
      assert js6[@own_v7] == sender_key()
      assert [%{"senderSigningKey" => signing}] = js6[@member_v7]
      refute Map.has_key?(signing, "private")

      # Only the sender keys differ between the two exports.
      assert Map.drop(js7, [@own_v7, @member_v7]) == Map.drop(js6, [@own_v7, @member_v7])

      # The 7.x export imports back to the same terms.
      assert {:ok, _} =
               Tools.import_baileys(Path.join(tmp, "js7"), Path.join(tmp, "ex7b"), to: @to)

      assert loaded(module, Path.join(tmp, "ex7b")) == ex7
    end

    @tag :tmp_dir
    test "#{to}: a sender-key file of neither version's shape is an error naming it",
         %{tmp_dir: tmp} do
      bad = [
        {"a number", 12},
        {"a string", "not a record"},
        {"a Buffer whose text is not JSON", buf("[{\"senderKeyId\":")},
        {"a Buffer whose JSON is not a list", buf(~s({"senderKeyId":1}))},
        {"a Buffer of non-UTF-8 bytes", buf(<<255, 254>>)},
        {"states with a bad byte list",
         v7_text([put_in(hd(v7_states()), ["senderChainKey", "seed", "data"], [1, 300])])}
      ]

      for {{what, value}, i} <- Enum.with_index(bad) do
        src = folder(Path.join(tmp, "js#{i}"), %{@own_v7 => value})
        dst = Path.join(tmp, "ex#{i}")

        assert {:error, {:invalid_file, @own_v7, _field, _reason}} =
                 Tools.import_baileys(src, dst, to: @to),
               what

        refute File.exists?(dst)
      end
    end
  end

  @tag :tmp_dir
  test "export refuses a Baileys version it does not know, and writes nothing", %{tmp_dir: tmp} do
    src = folder(Path.join(tmp, "js"))
    assert {:ok, _} = Tools.import_baileys(src, Path.join(tmp, "ex"))

    for version <- [5, 8, "7", :seven] do
      assert {:error, {:invalid_baileys_version, ^version}} =
               Tools.export_baileys(Path.join(tmp, "ex"), Path.join(tmp, "js2"), baileys: version)

      refute File.exists?(Path.join(tmp, "js2"))
    end
  end

  @tag :tmp_dir
  test "no creds.json, a non-empty target and a missing source are refused", %{tmp_dir: tmp} do
    src = folder(Path.join(tmp, "js"))
    File.rm!(Path.join(src, "creds.json"))
    assert {:error, {:missing_creds, _}} = Tools.import_baileys(src, Path.join(tmp, "a"))
    refute File.exists?(Path.join(tmp, "a"))

    src = folder(Path.join(tmp, "js2"))
    dst = Path.join(tmp, "full")
    File.mkdir_p!(dst)
    File.write!(Path.join(dst, "keep"), "x")
    assert {:error, {:target_not_empty, ^dst}} = Tools.import_baileys(src, dst)
    assert File.read!(Path.join(dst, "keep")) == "x"
    assert {:ok, _} = Tools.import_baileys(src, dst, force: true)
    refute File.exists?(Path.join(dst, "keep"))

    assert {:error, {:cannot_list_source, _, :enoent}} =
             Tools.import_baileys(Path.join(tmp, "none"), Path.join(tmp, "b"))

    assert {:error, _} = Tools.export_baileys(Path.join(tmp, "none"), Path.join(tmp, "c"))
    refute File.exists?(Path.join(tmp, "c"))
  end

  test "the JSON reader is strict and bounded" do
    assert {:ok, %{"a" => [1, 2.5, "é", nil, true]}} =
             JSON.decode(~s({"a":[1,2.5,"\\u00e9",null,true]}))

    assert {:error, {:invalid_json, _}} = JSON.decode("{\"a\":1,}")
    assert {:error, {:invalid_json, _}} = JSON.decode("[1] x")
    assert {:error, {:invalid_json, :too_deep}} = JSON.decode(String.duplicate("[", 100))
    assert {:error, {:invalid_json, :not_utf8}} = JSON.decode(<<"\"", 255, "\"">>)
    assert {:ok, "😀"} = JSON.decode(~s("\\ud83d\\ude00"))
  end
end
