defmodule BaileysEx.Auth.NIF.NativeFilePersistenceTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.State
  alias BaileysEx.Signal.SessionRecord

  @manifest Backends.fetch!(:etf).manifest_file

  describe "credentials" do
    @tag :tmp_dir
    test "a missing creds.etf gives fresh unregistered credentials and writes nothing", %{
      tmp_dir: tmp_dir
    } do
      assert {:ok, %State{} = first} = Persistence.load_credentials(tmp_dir)
      assert first.registered == false
      assert %{public: <<_::binary-size(32)>>, private: <<_::binary-size(32)>>} = first.noise_key
      assert File.ls!(tmp_dir) == []

      assert {:ok, %State{} = second} = Persistence.load_credentials(tmp_dir)
      assert second.noise_key != first.noise_key
      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "a missing directory is created, but no file in it", %{tmp_dir: tmp_dir} do
      path = Path.join([tmp_dir, "nested", "auth"])

      assert {:ok, %State{registered: false}} = Persistence.load_credentials(path)
      assert File.dir?(path)
      assert File.ls!(path) == []
    end

    @tag :tmp_dir
    test "credentials roundtrip any BEAM term, including atoms and tuples", %{tmp_dir: tmp_dir} do
      state = %{
        DeterministicAuth.state(150)
        | platform: "macOS",
          routing_info: <<1, 2, 3, 4>>,
          pairing_code: "123-456",
          additional_data: %{
            labels: [:alpha, :beta],
            nested: %{token: <<5, 6, 7>>, status: {:ok, 42}, ref: {:a, [1.5, -3], "é"}}
          }
      }

      assert :ok = Persistence.save_credentials(tmp_dir, state)
      assert {:ok, ^state} = Persistence.load_credentials(tmp_dir)

      encoded = File.read!(Path.join(tmp_dir, "creds.etf"))
      assert encoded == :erlang.term_to_binary(state)
      assert :erlang.binary_to_term(encoded, [:safe]) == state
    end

    @tag :tmp_dir
    test "saving credentials writes an empty manifest next to them", %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.save_credentials(tmp_dir, DeterministicAuth.state(151))

      assert Enum.sort(File.ls!(tmp_dir)) == Enum.sort([@manifest, "creds.etf"])

      assert read_manifest(tmp_dir) == %{
               "backend" => "native_file_persistence",
               "version" => 1,
               "key_index" => %{}
             }
    end

    @tag :tmp_dir
    test "a later save replaces the credentials", %{tmp_dir: tmp_dir} do
      first = DeterministicAuth.state(152)
      second = %{first | platform: "second", account_sync_counter: 9}

      assert :ok = Persistence.save_credentials(tmp_dir, first)
      assert :ok = Persistence.save_credentials(tmp_dir, second)
      assert {:ok, ^second} = Persistence.load_credentials(tmp_dir)
    end

    @tag :tmp_dir
    test "a stored plain map becomes a State struct", %{tmp_dir: tmp_dir} do
      fields = %{platform: "android", registered: true, registration_id: 77}
      File.write!(Path.join(tmp_dir, "creds.etf"), :erlang.term_to_binary(fields))

      assert {:ok, loaded} = Persistence.load_credentials(tmp_dir)
      assert loaded == struct(State, fields)
    end

    @tag :tmp_dir
    test "stored credentials that are not a map are refused", %{tmp_dir: tmp_dir} do
      File.write!(Path.join(tmp_dir, "creds.etf"), :erlang.term_to_binary([1, 2, 3]))

      assert {:error, {:invalid_credentials_data, [1, 2, 3]}} =
               Persistence.load_credentials(tmp_dir)
    end

    @tag :tmp_dir
    test "an orphan creds temp file is ignored; the committed state wins", %{tmp_dir: tmp_dir} do
      committed = %{DeterministicAuth.state(160) | platform: "stable"}
      orphan = %{DeterministicAuth.state(161) | platform: "orphan"}

      assert :ok = Persistence.save_credentials(tmp_dir, committed)

      File.write!(
        Path.join(tmp_dir, "creds.etf.tmp-12345"),
        :erlang.term_to_binary(orphan)
      )

      assert {:ok, ^committed} = Persistence.load_credentials(tmp_dir)
    end
  end

  describe "keys" do
    @tag :tmp_dir
    test "a missing key is :not_found", %{tmp_dir: tmp_dir} do
      assert {:error, :not_found} = Persistence.load_keys(tmp_dir, :session, "nobody.0")
      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "keys live in sanitised per-key files and can be deleted", %{tmp_dir: tmp_dir} do
      assert :ok =
               Persistence.save_keys(tmp_dir, :"device-list", "alice/device:0", [
                 "primary",
                 "companion"
               ])

      assert {:ok, ["primary", "companion"]} =
               Persistence.load_keys(tmp_dir, :"device-list", "alice/device:0")

      file = Path.join(tmp_dir, "device-list-alice__device-0.etf")
      assert File.read!(file) == :erlang.term_to_binary(["primary", "companion"])

      assert read_manifest(tmp_dir)["key_index"] == %{"device-list" => ["alice/device:0"]}

      assert :ok = Persistence.delete_keys(tmp_dir, :"device-list", "alice/device:0")
      refute File.exists?(file)

      assert {:error, :not_found} =
               Persistence.load_keys(tmp_dir, :"device-list", "alice/device:0")

      assert read_manifest(tmp_dir)["key_index"] == %{"device-list" => []}
    end

    @tag :tmp_dir
    test "ids that sanitise to the same name share one file", %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.save_keys(tmp_dir, :"device-list", "alice/device:0", ["a"])
      assert {:ok, ["a"]} = Persistence.load_keys(tmp_dir, :"device-list", "alice__device-0")
      assert {:ok, ["a"]} = Persistence.load_keys(tmp_dir, :"device-list", "alice/device-0")
    end

    @tag :tmp_dir
    test "integer ids are stored under their string form", %{tmp_dir: tmp_dir} do
      pair = DeterministicAuth.x25519_key_pair(5)

      assert :ok = Persistence.save_keys(tmp_dir, :"pre-key", 5, pair)
      assert File.exists?(Path.join(tmp_dir, "pre-key-5.etf"))
      assert {:ok, ^pair} = Persistence.load_keys(tmp_dir, :"pre-key", 5)
      assert {:ok, ^pair} = Persistence.load_keys(tmp_dir, :"pre-key", "5")
      assert read_manifest(tmp_dir)["key_index"] == %{"pre-key" => ["5"]}

      assert :ok = Persistence.delete_keys(tmp_dir, :"pre-key", 5)
      assert {:error, :not_found} = Persistence.load_keys(tmp_dir, :"pre-key", "5")
      assert read_manifest(tmp_dir)["key_index"] == %{"pre-key" => []}
    end

    @tag :tmp_dir
    test "deleting a missing key is :ok and creates no manifest", %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.delete_keys(tmp_dir, :session, "ghost.0")
      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "the manifest index stays unique and sorted", %{tmp_dir: tmp_dir} do
      for id <- ["b", "a", "c", "a", "b"] do
        assert :ok = Persistence.save_keys(tmp_dir, :session, id, %{id: id})
      end

      assert :ok = Persistence.save_keys(tmp_dir, :tctoken, "t", %{token: <<1>>})

      assert read_manifest(tmp_dir) == %{
               "backend" => "native_file_persistence",
               "version" => 1,
               "key_index" => %{"session" => ["a", "b", "c"], "tctoken" => ["t"]}
             }
    end

    @tag :tmp_dir
    test "other type atoms are saved and loaded but never indexed", %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.save_keys(tmp_dir, :"custom-type", "x", {:any, "term"})
      assert File.exists?(Path.join(tmp_dir, "custom-type-x.etf"))
      assert {:ok, {:any, "term"}} = Persistence.load_keys(tmp_dir, :"custom-type", "x")
      assert read_manifest(tmp_dir)["key_index"] == %{}
      assert {:ok, index} = Persistence.list_persisted_keys(tmp_dir)
      assert index == %{}
    end

    @tag :tmp_dir
    test "unknown types and malformed ids in an existing manifest are dropped on rewrite", %{
      tmp_dir: tmp_dir
    } do
      write_manifest(tmp_dir, %{
        "backend" => "native_file_persistence",
        "version" => 1,
        "key_index" => %{"bogus" => ["x"], "session" => ["b", "a", "a", 7]}
      })

      assert :ok = Persistence.save_keys(tmp_dir, :"pre-key", "1", %{})

      assert read_manifest(tmp_dir)["key_index"] == %{
               "session" => ["a", "b"],
               "pre-key" => ["1"]
             }
    end

    @tag :tmp_dir
    test "an orphan key temp file is ignored; the committed value wins", %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.save_keys(tmp_dir, :"device-list", "15551234567", ["0", "2"])

      File.write!(
        Path.join(tmp_dir, "device-list-15551234567.etf.tmp-98765"),
        :erlang.term_to_binary(["9"])
      )

      assert {:ok, ["0", "2"]} = Persistence.load_keys(tmp_dir, :"device-list", "15551234567")

      assert {:ok, %{"device-list": ["15551234567"]}} = Persistence.list_persisted_keys(tmp_dir)
    end

    @tag :tmp_dir
    test "session records keyed by non-UTF-8 binaries roundtrip", %{tmp_dir: tmp_dir} do
      base_key =
        <<5, 47, 94, 146, 126, 20, 145, 64, 167, 132, 196, 186, 86, 38, 23, 215, 31, 144, 133,
          214, 230, 196, 84, 64, 227, 163, 144, 29, 239, 76, 133, 227, 35>>

      refute String.valid?(base_key)
      record = SessionRecord.put_session(SessionRecord.new(), base_key, session(base_key))

      assert :ok = Persistence.save_keys(tmp_dir, :session, "16268980123.0", record)
      assert {:ok, ^record} = Persistence.load_keys(tmp_dir, :session, "16268980123.0")
    end
  end

  describe "use_native_file_auth_state/1" do
    @tag :tmp_dir
    test "returns the stored state and connect options for the KeyStore", %{tmp_dir: tmp_dir} do
      state = %{DeterministicAuth.state(170) | platform: "ios"}
      assert :ok = Persistence.save_credentials(tmp_dir, state)

      assert {:ok, %{state: ^state, connect_opts: connect_opts, save_creds: save_creds}} =
               Persistence.use_native_file_auth_state(tmp_dir)

      assert connect_opts == [
               signal_store_module: BaileysEx.Auth.KeyStore,
               signal_store_opts: [persistence_module: Persistence, persistence_context: tmp_dir]
             ]

      assert is_function(save_creds, 1)
    end

    @tag :tmp_dir
    test "on a fresh directory it returns fresh credentials", %{tmp_dir: tmp_dir} do
      assert {:ok, %{state: %State{registered: false}}} =
               Persistence.use_native_file_auth_state(tmp_dir)

      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "save_creds stores a State as is", %{tmp_dir: tmp_dir} do
      assert {:ok, auth} = Persistence.use_native_file_auth_state(tmp_dir)

      updated = %{
        auth.state
        | pairing_code: "ABC-123",
          additional_data: %{labels: [:native], pair: {1, 2}}
      }

      assert :ok = auth.save_creds.(updated)
      assert {:ok, ^updated} = Persistence.load_credentials(tmp_dir)
    end

    @tag :tmp_dir
    test "save_creds projects a map with a nested :creds map", %{tmp_dir: tmp_dir} do
      assert {:ok, auth} = Persistence.use_native_file_auth_state(tmp_dir)
      creds = %{platform: "web", registered: true, registration_id: 321}

      assert :ok = auth.save_creds.(%{creds: creds, keys: :ignored})
      assert {:ok, loaded} = Persistence.load_credentials(tmp_dir)
      assert loaded == struct(State, creds)
    end

    @tag :tmp_dir
    test "save_creds turns a flat map into a State, dropping unknown fields", %{
      tmp_dir: tmp_dir
    } do
      assert {:ok, auth} = Persistence.use_native_file_auth_state(tmp_dir)
      state = DeterministicAuth.state(171)

      fields =
        state
        |> Map.from_struct()
        |> Map.put(:platform, "flat")
        |> Map.put(:not_a_state_field, true)

      assert :ok = auth.save_creds.(fields)
      assert {:ok, loaded} = Persistence.load_credentials(tmp_dir)
      assert loaded == %{state | platform: "flat"}
    end

    @tag :tmp_dir
    test "save_creds stores fresh credentials for anything that is not a map", %{
      tmp_dir: tmp_dir
    } do
      assert {:ok, auth} = Persistence.use_native_file_auth_state(tmp_dir)
      assert :ok = auth.save_creds.(:not_a_map)

      assert File.exists?(Path.join(tmp_dir, "creds.etf"))
      assert {:ok, %State{registered: false} = loaded} = Persistence.load_credentials(tmp_dir)
      assert %{public: <<_::binary-size(32)>>} = loaded.noise_key
      assert loaded.noise_key != auth.state.noise_key
    end
  end

  describe "contract" do
    @tag :tmp_dir
    test "credentials and a key set roundtrip and are listed", %{tmp_dir: tmp_dir} do
      path = Path.join(tmp_dir, "native_file")
      state = %{DeterministicAuth.state(410) | platform: "contract-410"}
      record = session_record(410)
      token = %{token: <<9, 8, 7>>, timestamp: "1710000000"}

      assert :ok = Persistence.save_credentials(path, state)
      assert :ok = Persistence.save_keys(path, :"device-list", "15551234567", ["0", "2"])
      assert :ok = Persistence.save_keys(path, :"identity-key", "alice.0", <<1, 2, 3>>)
      assert :ok = Persistence.save_keys(path, :session, "16268980123.0", record)
      assert :ok = Persistence.save_keys(path, :tctoken, "15551234567@s.whatsapp.net", token)

      assert {:ok, ^state} = Persistence.load_credentials(path)
      assert {:ok, ["0", "2"]} = Persistence.load_keys(path, :"device-list", "15551234567")
      assert {:ok, <<1, 2, 3>>} = Persistence.load_keys(path, :"identity-key", "alice.0")
      assert {:ok, ^record} = Persistence.load_keys(path, :session, "16268980123.0")
      assert {:ok, ^token} = Persistence.load_keys(path, :tctoken, "15551234567@s.whatsapp.net")

      assert {:ok,
              %{
                "device-list": ["15551234567"],
                "identity-key": ["alice.0"],
                session: ["16268980123.0"],
                tctoken: ["15551234567@s.whatsapp.net"]
              }} == Persistence.list_persisted_keys(path)

      assert {:ok, auth} = Persistence.use_native_file_auth_state(path)
      assert auth.state == state

      updated = %{state | pairing_code: "PAIR-410", platform: "contract-updated-410"}
      assert :ok = auth.save_creds.(updated)
      assert {:ok, ^updated} = Persistence.load_credentials(path)
    end
  end

  describe "list_persisted_keys/1" do
    @tag :tmp_dir
    test "an empty or missing directory lists nothing", %{tmp_dir: tmp_dir} do
      assert {:ok, %{}} == Persistence.list_persisted_keys(tmp_dir)
      assert {:ok, %{}} == Persistence.list_persisted_keys(Path.join(tmp_dir, "missing"))
    end

    @tag :tmp_dir
    test "merges the manifest with a lossy directory scan", %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.save_keys(tmp_dir, :"device-list", "alice/device:0", ["0"])
      assert :ok = Persistence.save_keys(tmp_dir, :"sender-key", "g::s::0", %{})
      assert :ok = Persistence.save_keys(tmp_dir, :"sender-key-memory", "g@g.us", %{})
      assert :ok = Persistence.save_keys(tmp_dir, :"app-state-sync-key", "AAAA/+8x", %{})
      assert :ok = Persistence.save_keys(tmp_dir, :"pre-key", 12, %{})

      assert {:ok,
              %{
                "device-list": ["alice/device-0", "alice/device:0"],
                "sender-key": ["g::s::0"],
                "sender-key-memory": ["g@g.us"],
                "app-state-sync-key": ["AAAA/+8x"],
                "pre-key": ["12"]
              }} == Persistence.list_persisted_keys(tmp_dir)
    end

    @tag :tmp_dir
    test "the scan restores the sender-key pattern only for sender keys", %{tmp_dir: tmp_dir} do
      for name <- [
            "sender-key-120363@g.us--15550001111--3.etf",
            "sender-key-weird--name.etf",
            "device-list-a--b--0.etf",
            "sender-key-memory-a--b--0.etf",
            "session-x__y.etf"
          ] do
        File.write!(Path.join(tmp_dir, name), :erlang.term_to_binary(%{}))
      end

      assert {:ok,
              %{
                "sender-key": ["120363@g.us::15550001111::3", "weird--name"],
                "device-list": ["a--b--0"],
                "sender-key-memory": ["a--b--0"],
                session: ["x/y"]
              }} == Persistence.list_persisted_keys(tmp_dir)
    end

    @tag :tmp_dir
    test "the scan skips creds, the manifest, temp files, other extensions and other types", %{
      tmp_dir: tmp_dir
    } do
      assert :ok = Persistence.save_credentials(tmp_dir, DeterministicAuth.state(180))

      for name <- [
            "session-a.etf.tmp-1",
            "session-b.json",
            "session-c.etf.bak",
            "custom-d.etf",
            "sessionless.etf",
            "creds.etf.tmp-2"
          ] do
        File.write!(Path.join(tmp_dir, name), :erlang.term_to_binary(%{}))
      end

      assert {:ok, %{}} == Persistence.list_persisted_keys(tmp_dir)
    end

    @tag :tmp_dir
    test "files on disk without a manifest entry and manifest entries without a file are both listed",
         %{tmp_dir: tmp_dir} do
      assert :ok = Persistence.save_keys(tmp_dir, :session, "in-manifest.0", %{})
      File.rm!(Path.join(tmp_dir, "session-in-manifest.0.etf"))
      File.write!(Path.join(tmp_dir, "session-on-disk.0.etf"), :erlang.term_to_binary(%{}))

      assert {:ok, %{session: ["in-manifest.0", "on-disk.0"]}} ==
               Persistence.list_persisted_keys(tmp_dir)
    end
  end

  describe "manifest validation" do
    @tag :tmp_dir
    test "another backend's manifest is refused by every call", %{tmp_dir: tmp_dir} do
      write_manifest(tmp_dir, %{
        "backend" => "file_persistence",
        "version" => 1,
        "key_index" => %{}
      })

      assert_all_calls_fail(
        tmp_dir,
        {:unexpected_persistence_backend, Persistence, "file_persistence"}
      )
    end

    @tag :tmp_dir
    test "another format version is refused by every call", %{tmp_dir: tmp_dir} do
      write_manifest(tmp_dir, %{
        "backend" => "native_file_persistence",
        "version" => 99,
        "key_index" => %{}
      })

      assert_all_calls_fail(tmp_dir, {:unsupported_persistence_version, Persistence, 99})
    end

    @tag :tmp_dir
    test "a manifest that is not ETF is invalid metadata", %{tmp_dir: tmp_dir} do
      File.write!(Path.join(tmp_dir, @manifest), "definitely not a term")

      assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
               Persistence.load_credentials(tmp_dir)

      assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
               Persistence.save_keys(tmp_dir, :session, "a", %{})

      assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
               Persistence.list_persisted_keys(tmp_dir)

      refute File.exists?(Path.join(tmp_dir, "session-a.etf"))
    end

    @tag :tmp_dir
    test "a manifest of the wrong shape is invalid metadata", %{tmp_dir: tmp_dir} do
      for term <- [[1, 2], %{"version" => 1}, "native_file_persistence", %{backend: "x"}] do
        write_manifest(tmp_dir, term)

        assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
                 Persistence.load_keys(tmp_dir, :session, "a"),
               "manifest #{inspect(term)}"
      end
    end
  end

  defp assert_all_calls_fail(dir, reason) do
    error = {:error, reason}
    state = DeterministicAuth.state(190)

    assert Persistence.load_credentials(dir) == error
    assert Persistence.save_credentials(dir, state) == error
    assert Persistence.load_keys(dir, :session, "a.0") == error
    assert Persistence.save_keys(dir, :session, "a.0", %{}) == error
    assert Persistence.delete_keys(dir, :session, "a.0") == error
    assert Persistence.list_persisted_keys(dir) == error
    assert Persistence.use_native_file_auth_state(dir) == error

    assert File.ls!(dir) == [@manifest]
  end

  defp read_manifest(dir) do
    dir |> Path.join(@manifest) |> File.read!() |> :erlang.binary_to_term([:safe])
  end

  defp write_manifest(dir, term) do
    File.write!(Path.join(dir, @manifest), :erlang.term_to_binary(term))
  end

  defp session(base_key) do
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
          message_keys: %{0 => <<1, 2>>, 1 => <<3, 4>>}
        }
      }
    }
  end

  defp session_record(seed) do
    base_key = :binary.copy(<<rem(seed, 256)>>, 32)

    SessionRecord.put_session(SessionRecord.new(), base_key, %{
      current_ratchet: %{
        root_key: :binary.copy(<<0xAA>>, 32),
        ephemeral_key_pair: %{public: :binary.copy(<<1>>, 32), private: :binary.copy(<<2>>, 32)},
        last_remote_ephemeral: :binary.copy(<<3>>, 32),
        previous_counter: 0
      },
      index_info: %{
        remote_identity_key: <<5>> <> :binary.copy(<<4>>, 32),
        local_identity_key: <<5>> <> :binary.copy(<<5>>, 32),
        base_key: base_key,
        base_key_type: :sending,
        closed: nil
      },
      chains: %{},
      pending_pre_key: nil,
      registration_id: 42
    })
  end
end
