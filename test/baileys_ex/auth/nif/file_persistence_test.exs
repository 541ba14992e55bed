defmodule BaileysEx.Auth.NIF.FilePersistenceTest do
  @moduledoc """
  What only the JSON backend does: Baileys-compatible JSON on disk, the
  checks of values JSON cannot hold, JSON decode errors, legacy codecs and
  depth limits. The behaviour both backends share is in
  `parity/contract_test.exs` and `drop_in_test.exs`.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.FilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.DirSnapshot
  alias BaileysEx.Auth.NIF.Test.FreshVM
  alias BaileysEx.Auth.NIF.Test.Parity
  alias BaileysEx.Auth.State
  alias BaileysEx.Protocol.Proto.ADVSignedDeviceIdentity
  alias BaileysEx.Signal.SessionRecord

  import BaileysEx.Auth.NIF.Test.Golden, only: [decode_json!: 1]

  @manifest Backends.fetch!(:json).manifest_file

  @non_utf8_base_key Parity.non_utf8_base_key()

  describe "credentials" do
    @tag :tmp_dir
    test "credentials roundtrip with binaries in additional_data", %{tmp_dir: tmp_dir} do
      state =
        json_state(50, %{
          platform: "macOS",
          routing_info: <<1, 2, 3, 4>>,
          pairing_code: "123-456",
          additional_data: %{
            "labels" => ["alpha", "beta"],
            "nested" => %{"token" => <<5, 6, 7>>, "raw" => <<0, 255>>, "n" => [1, 2.5, nil]}
          }
        })

      assert :ok = Persistence.save_credentials(tmp_dir, state)
      assert {:ok, ^state} = Persistence.load_credentials(tmp_dir)

      json = read_json(tmp_dir, "creds.json")
      assert json["routing_info"] == %{"type" => "Buffer", "data" => "AQIDBA=="}
      assert json["platform"] == "macOS"
      assert json["pairing_code"] == "123-456"

      assert json["additional_data"] == %{
               "labels" => ["alpha", "beta"],
               "nested" => %{
                 "token" => %{"type" => "Buffer", "data" => "BQYH"},
                 "raw" => %{"type" => "Buffer", "data" => "AP8="},
                 "n" => [1, 2.5, nil]
               }
             }
    end

    @tag :tmp_dir
    test "a creds.json holding JSON null is treated as missing", %{tmp_dir: tmp_dir} do
      File.write!(Path.join(tmp_dir, "creds.json"), "null")

      assert {:ok, %State{registered: false}} = Persistence.load_credentials(tmp_dir)
      assert File.ls!(tmp_dir) == ["creds.json"]
    end
  end

  describe "Baileys-compatible JSON on disk" do
    @tag :tmp_dir
    test "creds.json has string keys, Buffer tags and no Elixir term tags", %{tmp_dir: tmp_dir} do
      state =
        json_state(210, %{
          routing_info: <<1, 2, 3, 4>>,
          me: %{id: "15551234567@s.whatsapp.net", lid: "12345678901234@lid", name: "~"},
          account: %ADVSignedDeviceIdentity{
            details: <<5, 6, 7>>,
            account_signature: <<8, 9>>,
            account_signature_key: <<10, 11>>,
            device_signature: <<12, 13>>
          },
          processed_history_messages: [
            %{
              key: %{
                id: "hist-1",
                remote_jid: "15559999999@s.whatsapp.net",
                remote_jid_alt: nil,
                participant: nil,
                participant_alt: nil,
                from_me: false,
                addressing_mode: :pn,
                server_id: 42
              },
              message_timestamp: 1_710_000_600
            }
          ],
          additional_data: %{"labels" => ["alpha", "beta"], "token" => <<14, 15, 16>>}
        })

      assert :ok = Persistence.save_credentials(tmp_dir, state)
      assert {:ok, ^state} = Persistence.load_credentials(tmp_dir)

      contents = File.read!(Path.join(tmp_dir, "creds.json"))
      refute String.contains?(contents, "\"__type__\"")
      refute String.contains?(contents, "\"__atom_keys__\"")

      json = decode_json!(contents)

      state_fields =
        %State{} |> Map.from_struct() |> Map.keys() |> Enum.map(&Atom.to_string/1) |> Enum.sort()

      assert json |> Map.keys() |> Enum.sort() == state_fields
      assert all_keys_are_strings?(json)

      assert %{
               "noise_key" => %{
                 "private" => %{"type" => "Buffer", "data" => noise_private},
                 "public" => %{"type" => "Buffer", "data" => noise_public}
               },
               "routing_info" => %{"type" => "Buffer", "data" => "AQIDBA=="},
               "me" => %{
                 "id" => "15551234567@s.whatsapp.net",
                 "lid" => "12345678901234@lid",
                 "name" => "~"
               },
               "account" => %{
                 "details" => %{"type" => "Buffer", "data" => "BQYH"},
                 "account_signature" => %{"type" => "Buffer", "data" => "CAk="},
                 "account_signature_key" => %{"type" => "Buffer", "data" => "Cgs="},
                 "device_signature" => %{"type" => "Buffer", "data" => "DA0="}
               },
               "signed_pre_key" => %{
                 "key_id" => 213,
                 "key_pair" => %{"private" => %{"type" => "Buffer"}, "public" => _},
                 "signature" => %{"type" => "Buffer", "data" => _}
               },
               "signal_identities" => [
                 %{
                   "identifier" => %{"device_id" => 0, "name" => "9210:12@lid"},
                   "identifier_key" => %{"type" => "Buffer", "data" => _}
                 }
               ],
               "processed_history_messages" => [
                 %{
                   "key" => %{
                     "id" => "hist-1",
                     "remote_jid" => "15559999999@s.whatsapp.net",
                     "remote_jid_alt" => nil,
                     "participant" => nil,
                     "participant_alt" => nil,
                     "addressing_mode" => "pn",
                     "from_me" => false,
                     "server_id" => 42
                   },
                   "message_timestamp" => 1_710_000_600
                 }
               ],
               "account_settings" => %{
                 "unarchive_chats" => true,
                 "default_disappearing_mode" => nil
               },
               "additional_data" => %{
                 "labels" => ["alpha", "beta"],
                 "token" => %{"type" => "Buffer", "data" => "Dg8Q"}
               },
               "registered" => true,
               "registration_id" => 1210
             } = json

      assert Base.decode64!(noise_private) == state.noise_key.private
      assert Base.decode64!(noise_public) == state.noise_key.public
    end

    @tag :tmp_dir
    test "session JSON keys sessions and chains by base64 and has no Elixir term tags", %{
      tmp_dir: tmp_dir
    } do
      record =
        SessionRecord.put_session(
          SessionRecord.new(),
          @non_utf8_base_key,
          session(@non_utf8_base_key)
        )

      assert :ok = Persistence.save_keys(tmp_dir, :session, "16268980123.0", record)
      assert {:ok, ^record} = Persistence.load_keys(tmp_dir, :session, "16268980123.0")

      contents = File.read!(Path.join(tmp_dir, "session-16268980123.0.json"))
      refute String.contains?(contents, "\"__type__\"")
      refute String.contains?(contents, "\"__atom_keys__\"")

      json = decode_json!(contents)
      assert all_keys_are_strings?(json)
      encoded_base_key = Base.encode64(@non_utf8_base_key)
      encoded_chain_key = Base.encode64(<<31, 32, 33>>)

      assert json == %{
               "sessions" => %{
                 encoded_base_key => %{
                   "current_ratchet" => %{
                     "root_key" => buffer(<<11, 12, 13>>),
                     "ephemeral_key_pair" => %{
                       "public" => buffer(<<14, 15, 16>>),
                       "private" => buffer(<<17, 18, 19>>)
                     },
                     "last_remote_ephemeral" => buffer(<<20, 21, 22>>),
                     "previous_counter" => 7
                   },
                   "index_info" => %{
                     "remote_identity_key" => buffer(<<23, 24, 25>>),
                     "local_identity_key" => buffer(<<26, 27, 28>>),
                     "base_key" => %{"type" => "Buffer", "data" => encoded_base_key},
                     "base_key_type" => "sending",
                     "closed" => -1
                   },
                   "pending_pre_key" => %{
                     "signed_pre_key_id" => 9,
                     "base_key" => buffer(<<29, 30>>),
                     "pre_key_id" => 10
                   },
                   "registration_id" => 12_345,
                   "chains" => %{
                     encoded_chain_key => %{
                       "chain_key" => %{"counter" => 1, "key" => buffer(<<34, 35, 36>>)},
                       "chain_type" => "receiving",
                       "message_keys" => %{"7" => %{"type" => "Buffer", "data" => "Kiss"}}
                     }
                   }
                 }
               }
             }
    end

    @tag :tmp_dir
    test "tctoken is written with senderTimestamp and read back in either spelling", %{
      tmp_dir: tmp_dir
    } do
      token = %{token: <<255, 1, 2>>, timestamp: "1710000000", sender_timestamp: 1_710_000_001}
      id = "15551234567@s.whatsapp.net"

      assert :ok = Persistence.save_keys(tmp_dir, :tctoken, id, token)
      assert {:ok, ^token} = Persistence.load_keys(tmp_dir, :tctoken, id)

      assert read_json(tmp_dir, "tctoken-#{id}.json") == %{
               "token" => %{"type" => "Buffer", "data" => Base.encode64(<<255, 1, 2>>)},
               "timestamp" => "1710000000",
               "senderTimestamp" => 1_710_000_001
             }

      File.write!(
        Path.join(tmp_dir, "tctoken-other.json"),
        ~s({"token":"abc","timestamp":5,"sender_timestamp":6})
      )

      assert {:ok, %{token: "abc", timestamp: 5, sender_timestamp: 6}} ==
               Persistence.load_keys(tmp_dir, :tctoken, "other")
    end

    @tag :tmp_dir
    test "binary identity and app-state keys are top-level Buffers", %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.save_keys(tmp_dir, :"identity-key", "alice.0", <<1, 2, 3>>)
      assert :ok = Persistence.save_keys(tmp_dir, :"app-state-sync-key", "AAAA", <<4, 5>>)

      assert :ok =
               Persistence.save_keys(tmp_dir, :"app-state-sync-key", "BBBB", %{key_data: <<6>>})

      assert read_json(tmp_dir, "identity-key-alice.0.json") == buffer(<<1, 2, 3>>)
      assert read_json(tmp_dir, "app-state-sync-key-AAAA.json") == buffer(<<4, 5>>)
      assert read_json(tmp_dir, "app-state-sync-key-BBBB.json") == %{"key_data" => buffer(<<6>>)}

      assert {:ok, <<1, 2, 3>>} = Persistence.load_keys(tmp_dir, :"identity-key", "alice.0")
      assert {:ok, <<4, 5>>} = Persistence.load_keys(tmp_dir, :"app-state-sync-key", "AAAA")

      assert {:ok, %{key_data: <<6>>}} ==
               Persistence.load_keys(tmp_dir, :"app-state-sync-key", "BBBB")
    end
  end

  describe "additional_data validation" do
    @tag :tmp_dir
    test "atom keys are rejected with the original's message and nothing is written", %{
      tmp_dir: tmp_dir
    } do
      state = json_state(55, %{additional_data: %{labels: ["a"]}})

      assert Persistence.save_credentials(tmp_dir, state) ==
               {:error,
                {:invalid_additional_data,
                 "additional_data contains a atom (:labels) map key at path [:additional_data]; " <>
                   "only string keys are supported"}}

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "atom values are rejected with the original's message and nothing is written", %{
      tmp_dir: tmp_dir
    } do
      state = json_state(56, %{additional_data: %{"key" => :value}})

      assert Persistence.save_credentials(tmp_dir, state) ==
               {:error,
                {:invalid_additional_data,
                 "additional_data contains a atom (:value) at path [:additional_data, \"key\"]; " <>
                   "only strings, numbers, booleans, lists, and string-keyed maps are supported"}}

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "every other kind is named with its path", %{tmp_dir: tmp_dir} do
      value_tail = "; only strings, numbers, booleans, lists, and string-keyed maps are supported"

      key_tail = "; only string keys are supported"

      cases = [
        {%{"a" => [1, {:ok, 2}]}, "a tuple at path [:additional_data, \"a\", 1]" <> value_tail},
        {%{"a" => %{"b" => self()}},
         "a pid at path [:additional_data, \"a\", \"b\"]" <> value_tail},
        {[make_ref()], "a reference at path [:additional_data, 0]" <> value_tail},
        {%{"f" => &IO.puts/1}, "a function at path [:additional_data, \"f\"]" <> value_tail},
        {%{"p" => hd(Port.list())},
         "a unsupported term at path [:additional_data, \"p\"]" <> value_tail},
        {%{"a" => %{1 => "one"}},
         "a unsupported term map key at path [:additional_data, \"a\"]" <> key_tail},
        {%{"a" => [%{nil => 1}]},
         "a atom (nil) map key at path [:additional_data, \"a\", 0]" <> key_tail},
        {:top_level, "a atom (:top_level) at path [:additional_data]" <> value_tail}
      ]

      for {data, message} <- cases do
        state = json_state(57, %{additional_data: data})

        assert Persistence.save_credentials(tmp_dir, state) ==
                 {:error, {:invalid_additional_data, "additional_data contains " <> message}},
               inspect(data)
      end

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "an anonymous function is named as a function", %{tmp_dir: tmp_dir} do
      state = json_state(59, %{additional_data: %{"f" => fn -> :ok end}})

      assert Persistence.save_credentials(tmp_dir, state) ==
               {:error,
                {:invalid_additional_data,
                 "additional_data contains a function at path [:additional_data, \"f\"]; " <>
                   "only strings, numbers, booleans, lists, and string-keyed maps are supported"}}

      assert File.ls!(tmp_dir) == []
    end

    # The original raises here (a struct is not enumerable); a struct is not a
    # string-keyed map, so it is refused like any other unsupported value.
    @tag :tmp_dir
    test "a struct is refused before anything is written", %{tmp_dir: tmp_dir} do
      for data <- [%ADVSignedDeviceIdentity{}, %{"d" => ~D[2024-01-01]}] do
        state = json_state(63, %{additional_data: data})

        assert {:error, {:invalid_additional_data, "additional_data contains " <> _}} =
                 Persistence.save_credentials(tmp_dir, state)
      end

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "a rejected save leaves the stored credentials untouched", %{tmp_dir: tmp_dir} do
      stored = json_state(58)
      assert :ok = Persistence.save_credentials(tmp_dir, stored)
      before = DirSnapshot.take(tmp_dir)

      assert {:error, {:invalid_additional_data, _}} =
               Persistence.save_credentials(tmp_dir, %{stored | additional_data: %{k: 1}})

      assert DirSnapshot.take(tmp_dir) == before
      assert {:ok, ^stored} = Persistence.load_credentials(tmp_dir)
    end
  end

  describe "values JSON cannot hold" do
    @tag :tmp_dir
    test "a json-safe violation in the credentials is an ArgumentError and writes nothing", %{
      tmp_dir: tmp_dir
    } do
      for me <- [%{id: :atom}, %{id: {1, 2}}, %{id: %ADVSignedDeviceIdentity{}}] do
        state = json_state(60, %{me: me})
        assert {:error, %ArgumentError{}} = Persistence.save_credentials(tmp_dir, state)
      end

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "a json-safe violation in a key is an ArgumentError and writes nothing", %{
      tmp_dir: tmp_dir
    } do
      for value <- [[:a], [{1}], %{"k" => self()}, %ADVSignedDeviceIdentity{}, :atom] do
        assert {:error, %ArgumentError{}} =
                 Persistence.save_keys(tmp_dir, :"device-list", "x", value),
               inspect(value)
      end

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "a non-UTF-8 string field is an error tuple, not a crash, and writes nothing", %{
      tmp_dir: tmp_dir
    } do
      for {field, value} <- [
            platform: <<255, 0>>,
            pairing_code: <<0xC3>>,
            adv_secret_key: <<"ok", 0xFE>>
          ] do
        state = json_state(61, %{field => value})

        assert {:error, {:invalid_json_data, message}} =
                 Persistence.save_credentials(tmp_dir, state),
               inspect(field)

        assert is_binary(message)
      end

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "a nil field inside account is an error tuple, not a crash, and writes nothing", %{
      tmp_dir: tmp_dir
    } do
      account = %ADVSignedDeviceIdentity{
        details: nil,
        account_signature: <<1>>,
        account_signature_key: <<2>>,
        device_signature: <<3>>
      }

      for account <- [account, %{account | details: <<0>>, device_signature: nil}] do
        assert {:error, {:invalid_json_data, message}} =
                 Persistence.save_credentials(tmp_dir, json_state(62, %{account: account}))

        assert is_binary(message)
      end

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "creds.json that is not a JSON object is an error tuple, not a crash", %{
      tmp_dir: tmp_dir
    } do
      for body <- ["[1,2,3]", ~s("abc"), "42", "1.5", "true", "false"] do
        File.write!(Path.join(tmp_dir, "creds.json"), body)

        assert {:error, {:invalid_json_data, message}} = Persistence.load_credentials(tmp_dir),
               body

        assert is_binary(message)
      end
    end
  end

  describe "undecodable files" do
    @tag :tmp_dir
    test "JSON syntax errors come back as the JSON decoder's reasons", %{tmp_dir: tmp_dir} do
      cases = [
        {"", {:unexpected_end, 0}},
        {"{", {:unexpected_end, 1}},
        {~s({"a":}), {:invalid_byte, 5, ?}}},
        {"[1,2]x", {:invalid_byte, 5, ?x}},
        {"[01]", {:invalid_byte, 2, ?1}},
        {<<"[\"a", 255, "\"]">>, {:invalid_byte, 3, 255}},
        {~S(["\u12G4"]), {:unexpected_sequence, 2, ~S(\u12G4)}},
        {~S(["\ud800\u0041"]), {:unexpected_sequence, 2, ~S(\ud800\u0041)}}
      ]

      for {body, reason} <- cases do
        File.write!(Path.join(tmp_dir, "creds.json"), body)
        File.write!(Path.join(tmp_dir, "device-list-x.json"), body)

        assert Persistence.load_credentials(tmp_dir) == {:error, reason}, inspect(body)

        assert Persistence.load_keys(tmp_dir, :"device-list", "x") == {:error, reason},
               inspect(body)
      end
    end

    @tag :tmp_dir
    test "a key file holding JSON null is :not_found", %{tmp_dir: tmp_dir} do
      File.write!(Path.join(tmp_dir, "session-a.0.json"), "null")
      assert {:error, :not_found} = Persistence.load_keys(tmp_dir, :session, "a.0")
    end

    @tag :tmp_dir
    test "legacy files naming an atom this VM does not have are refused", %{tmp_dir: tmp_dir} do
      value_atom = unknown_atom_name()
      key_atom = unknown_atom_name()

      File.write!(
        Path.join(tmp_dir, "session-unknown-atom.json"),
        ~s({"__type__":"atom","value":"#{value_atom}"})
      )

      File.write!(
        Path.join(tmp_dir, "session-unknown-key.json"),
        ~s({"__atom_keys__":["#{key_atom}"],"#{key_atom}":"value"})
      )

      assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, :session, "unknown-atom")

      assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, :session, "unknown-key")

      for name <- [value_atom, key_atom] do
        assert_raise ArgumentError, fn -> String.to_existing_atom(name) end
      end
    end

    @tag :tmp_dir
    test "legacy files naming an existing atom outside the type's allow-list are refused", %{
      tmp_dir: tmp_dir
    } do
      File.write!(Path.join(tmp_dir, "session-known.json"), ~s({"__type__":"atom","value":"ok"}))
      assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, :session, "known")
    end

    @tag :tmp_dir
    test "malformed explicit credential JSON names the missing part", %{tmp_dir: tmp_dir} do
      for {name, mutate, expected} <- [
            {"missing_signed_pre_key_key_pair", &Map.put(&1, "signed_pre_key", %{"key_id" => 1}),
             "signed_pre_key.key_pair"},
            {"missing_signal_identity_key",
             &Map.put(&1, "signal_identities", [%{"identifier" => %{"name" => "alice"}}]),
             "signal_identity.identifier_key"},
            {"missing_processed_history_key",
             &Map.put(&1, "processed_history_messages", [%{"message_timestamp" => 1}]),
             "processed_history_messages[].key"}
          ] do
        case_dir = Path.join(tmp_dir, name)
        assert :ok = Persistence.save_credentials(case_dir, json_state(401))

        mutated = case_dir |> read_json("creds.json") |> mutate.() |> JSONCodec.encode!()
        File.write!(Path.join(case_dir, "creds.json"), mutated)

        assert {:error, %ArgumentError{message: message}} = Persistence.load_credentials(case_dir)

        assert message =~ expected
      end
    end

    @tag :tmp_dir
    test "malformed explicit key JSON names the missing part", %{tmp_dir: tmp_dir} do
      for {type, id, expected} <- [
            {:session, "bad-session", "session.sessions"},
            {:"sender-key", "bad-sender-key", "sender_key_record.sender_key_states"},
            {:"app-state-sync-key", "bad-app-state-key", "app_state_sync_key.key_data"},
            {:"app-state-sync-version", "bad-app-state-version", "app_state_sync_version.hash"}
          ] do
        File.write!(Path.join(tmp_dir, "#{type}-#{id}.json"), "{}")

        assert {:error, %ArgumentError{message: message}} =
                 Persistence.load_keys(tmp_dir, type, id)

        assert message =~ expected
      end
    end
  end

  describe "concurrent writers" do
    @tag :tmp_dir
    test "concurrent writes of creds.json leave one complete, decodable state", %{
      tmp_dir: tmp_dir
    } do
      states = for n <- 1..12, do: json_state(600 + n, %{platform: "writer-#{n}"})

      results =
        states
        |> Enum.map(fn state ->
          Task.async(fn ->
            for _ <- 1..5, do: Persistence.save_credentials(tmp_dir, state)
          end)
        end)
        |> Enum.map(&Task.await(&1, 300_000))

      assert List.flatten(results) == List.duplicate(:ok, 60)

      assert {:ok, %State{} = loaded} = Persistence.load_credentials(tmp_dir)
      assert loaded in states
      assert %{"platform" => "writer-" <> _} = read_json(tmp_dir, "creds.json")
      assert Enum.sort(File.ls!(tmp_dir)) == Enum.sort([@manifest, "creds.json"])
    end
  end

  describe "manifest" do
    @tag :tmp_dir
    test "a manifest holding JSON null counts as missing", %{tmp_dir: tmp_dir} do
      File.write!(Path.join(tmp_dir, @manifest), "null")

      assert {:error, :not_found} = Persistence.load_keys(tmp_dir, :session, "a.0")
      assert :ok = Persistence.save_keys(tmp_dir, :"device-list", "d", ["0"])

      assert read_json(tmp_dir, @manifest) == %{
               "backend" => "file_persistence",
               "version" => 1,
               "key_index" => %{"device-list" => ["d"]}
             }
    end

    @tag :tmp_dir
    test "a manifest that is not JSON is invalid metadata carrying the decode error", %{
      tmp_dir: tmp_dir
    } do
      File.write!(Path.join(tmp_dir, @manifest), "garbage")
      reason = {:invalid_persistence_metadata, Persistence, {:invalid_byte, 0, ?g}}

      assert_all_calls_fail(tmp_dir, reason)

      File.write!(Path.join(tmp_dir, @manifest), "{")

      assert Persistence.list_persisted_keys(tmp_dir) ==
               {:error, {:invalid_persistence_metadata, Persistence, {:unexpected_end, 1}}}
    end
  end

  describe "use_multi_file_auth_state/1" do
    @tag :tmp_dir
    test "save_creds validates additional_data like save_credentials", %{tmp_dir: tmp_dir} do
      assert {:ok, auth} = Persistence.use_multi_file_auth_state(tmp_dir)

      assert {:error, {:invalid_additional_data, _}} =
               auth.save_creds.(%{auth.state | additional_data: %{labels: [:native]}})

      assert File.ls!(tmp_dir) == []
    end

    # The original's creds encoder has no clause for a nil key pair and raises.
    @tag :tmp_dir
    test "save_creds of a :creds map without key pairs is an error tuple, not a crash", %{
      tmp_dir: tmp_dir
    } do
      assert {:ok, auth} = Persistence.use_multi_file_auth_state(tmp_dir)
      creds = %{platform: "web", registered: true, registration_id: 321}

      assert {:error, {:invalid_json_data, message}} =
               auth.save_creds.(%{creds: creds, keys: :ignored})

      assert is_binary(message)
      assert File.ls!(tmp_dir) == []
    end
  end

  describe "hostile nesting" do
    @tag :tmp_dir
    test "a list nested 100,000 deep in additional_data is refused and nothing is written", %{
      tmp_dir: tmp_dir
    } do
      deep = nested_list(100_000)

      in_worker(fn ->
        for data <- [%{"deep" => deep}, deep] do
          state = json_state(500, %{additional_data: data})
          assert {:error, {:nesting_too_deep, 256}} = Persistence.save_credentials(tmp_dir, state)
        end

        assert {:error, {:nesting_too_deep, 256}} =
                 Persistence.save_keys(tmp_dir, :"device-list", "deep", deep)
      end)

      assert File.ls!(tmp_dir) == []
      assert :ok = Persistence.save_credentials(tmp_dir, json_state(501))
    end

    @tag :tmp_dir
    test "a JSON file nested 100,000 deep is refused without crashing the VM", %{
      tmp_dir: tmp_dir
    } do
      arrays = String.duplicate("[", 100_000) <> String.duplicate("]", 100_000)
      objects = String.duplicate(~s({"a":), 100_000) <> "1" <> String.duplicate("}", 100_000)

      in_worker(fn ->
        for body <- [arrays, objects] do
          File.write!(Path.join(tmp_dir, "creds.json"), body)
          File.write!(Path.join(tmp_dir, "device-list-deep.json"), body)
          File.write!(Path.join(tmp_dir, "session-deep.json"), body)

          assert {:error, {:nesting_too_deep, 256}} = Persistence.load_credentials(tmp_dir)

          assert {:error, {:nesting_too_deep, 256}} =
                   Persistence.load_keys(tmp_dir, :"device-list", "deep")

          assert {:error, {:nesting_too_deep, 256}} =
                   Persistence.load_keys(tmp_dir, :session, "deep")
        end

        File.write!(Path.join(tmp_dir, @manifest), arrays)

        assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
                 Persistence.list_persisted_keys(tmp_dir)
      end)

      File.rm!(Path.join(tmp_dir, @manifest))
      assert :ok = Persistence.save_keys(tmp_dir, :"device-list", "deep", ["fine"])
      assert {:ok, ["fine"]} = Persistence.load_keys(tmp_dir, :"device-list", "deep")
    end
  end

  describe "a fresh VM" do
    @tag :tmp_dir
    test "the helper, creds and a session load with only this application's modules", %{
      tmp_dir: tmp_dir
    } do
      dir = Path.join(tmp_dir, "auth")
      state = json_state(85, %{platform: "compat-helper"})

      record =
        SessionRecord.put_session(
          SessionRecord.new(),
          @non_utf8_base_key,
          session(@non_utf8_base_key)
        )

      assert :ok = Persistence.save_credentials(dir, state)
      assert :ok = Persistence.save_keys(dir, :session, "16268980123.0", record)
      expected_path = Path.join(tmp_dir, "expected.etf")
      File.write!(expected_path, :erlang.term_to_binary({state, record}))
      ebin = FreshVM.lib_only_ebin(tmp_dir, Persistence)

      script = """
      [dir, expected_path] = System.argv()
      mod = Module.concat(["BaileysEx", "Auth", "NIF", "FilePersistence"])
      state_mod = Module.concat(["BaileysEx", "Auth", "State"])
      IO.puts("STATE_LOADED " <> inspect(:code.is_loaded(state_mod) != false))

      {:ok, auth} = mod.use_multi_file_auth_state(dir)
      opts = auth.connect_opts[:signal_store_opts]

      helper_ok =
        auth.connect_opts[:signal_store_module] ==
          Module.concat(["BaileysEx", "Auth", "NIF", "KeyStore"]) and
          Keyword.get(opts, :persistence_module) == mod and
          Keyword.get(opts, :persistence_context) == dir and
          is_struct(auth.state, state_mod) and auth.state.platform == "compat-helper" and
          is_function(auth.save_creds, 1)

      IO.puts("HELPER " <> inspect(helper_ok))

      {:ok, creds} = mod.load_credentials(dir)
      {:ok, record} = mod.load_keys(dir, String.to_atom("session"), "16268980123.0")

      # Read last: a non-safe decode creates atoms.
      {expected_state, expected_record} = expected_path |> File.read!() |> :erlang.binary_to_term()
      IO.puts("CREDS " <> inspect(creds == expected_state))
      IO.puts("SESSION " <> inspect(record == expected_record))
      IO.puts("DONE")
      """

      {output, lines} = FreshVM.run!(tmp_dir, ebin, script, [dir, expected_path])

      assert "STATE_LOADED false" in lines, output
      assert "HELPER true" in lines, output
      assert "CREDS true" in lines, output
      assert "SESSION true" in lines, output
      assert "DONE" in lines, output
    end
  end

  defp assert_all_calls_fail(dir, reason) do
    error = {:error, reason}
    before = DirSnapshot.take(dir)

    assert Persistence.load_credentials(dir) == error
    assert Persistence.save_credentials(dir, json_state(190)) == error
    assert Persistence.load_keys(dir, :session, "a.0") == error
    assert Persistence.save_keys(dir, :session, "a.0", SessionRecord.new()) == error
    assert Persistence.delete_keys(dir, :session, "a.0") == error
    assert Persistence.list_persisted_keys(dir) == error
    assert Persistence.use_multi_file_auth_state(dir) == error

    assert DirSnapshot.take(dir) == before
  end

  # DeterministicAuth leaves the optional message-key fields out; the JSON
  # codec writes and reads back all eight, so exact roundtrips need them.
  defp json_state(seed, overrides \\ %{}) do
    state = DeterministicAuth.state(seed)
    history = Enum.map(state.processed_history_messages, &complete_history_entry/1)
    base = %{state | processed_history_messages: history}
    Enum.reduce(overrides, base, fn {field, value}, acc -> Map.replace!(acc, field, value) end)
  end

  defp complete_history_entry(%{key: key} = entry) do
    %{entry | key: Map.merge(%{remote_jid_alt: nil, participant_alt: nil, server_id: nil}, key)}
  end

  defp session(base_key), do: Parity.small_session(base_key, %{7 => <<42, 43, 44>>})

  defp buffer(bytes), do: %{"type" => "Buffer", "data" => Base.encode64(bytes)}

  defp nested_list(depth), do: Enum.reduce(1..depth, [], fn _, acc -> [acc] end)

  defp unknown_atom_name,
    do: "bx_never_created_" <> Base.encode16(:crypto.strong_rand_bytes(12), case: :lower)

  # Runs `fun` in a separate process and requires it to finish normally, so a
  # crash in the callee would show up as this test failing, not as a hang.
  defp in_worker(fun) do
    {pid, ref} = spawn_monitor(fun)
    assert_receive {:DOWN, ^ref, :process, ^pid, reason}, 120_000
    assert reason == :normal
  end

  defp all_keys_are_strings?(map) when is_map(map) do
    Enum.all?(map, fn {key, value} -> is_binary(key) and all_keys_are_strings?(value) end)
  end

  defp all_keys_are_strings?(list) when is_list(list),
    do: Enum.all?(list, &all_keys_are_strings?/1)

  defp all_keys_are_strings?(_other), do: true

  defp read_json(dir, name), do: dir |> Path.join(name) |> File.read!() |> decode_json!()
end
