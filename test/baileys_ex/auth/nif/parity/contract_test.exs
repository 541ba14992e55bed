defmodule BaileysEx.Auth.NIF.Parity.ContractTest do
  @moduledoc """
  The auth persistence contract (docs/FORMAT.md, sections 1-5), written once and run
  against every implementation present: ours, the pure-Elixir baselines and,
  in an app that has `baileys_ex` installed, the real BaileysEx modules (see
  `BaileysEx.Auth.NIF.Test.Parity.implementations/0`). Only behaviour the
  originals and ours share is asserted; where the originals raise, nothing is
  checked here.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.DirSnapshot
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Test.KeyStoreDispatch
  alias BaileysEx.Auth.NIF.Test.Parity
  alias BaileysEx.Auth.State
  alias BaileysEx.Signal.SessionRecord

  for {impl, kind, helper} <- Parity.implementations() do
    describe inspect(impl) do
      @describetag :tmp_dir
      @describetag impl: impl, kind: kind, helper: helper, backend: Backends.fetch!(kind)

      test "missing credentials give a fresh unregistered state and write nothing", ctx do
        %{impl: impl, tmp_dir: tmp} = ctx
        dir = Path.join([tmp, "nested", "auth"])

        assert {:ok, %State{} = first} = impl.load_credentials(dir)
        assert first.registered == false
        assert %{public: <<_::binary-32>>, private: <<_::binary-32>>} = first.noise_key
        assert %{public: <<_::binary-32>>, private: <<_::binary-32>>} = first.signed_identity_key
        assert File.dir?(dir)
        assert File.ls!(dir) == []

        assert {:ok, %State{registered: false} = second} = impl.load_credentials(dir)
        assert second.noise_key != first.noise_key
        assert File.ls!(dir) == []
      end

      test "credentials round-trip and a second save replaces them", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: dir} = ctx
        state = Parity.creds(kind, 11)

        assert impl.save_credentials(dir, state) == :ok
        assert impl.load_credentials(dir) == {:ok, state}
        assert Enum.sort(File.ls!(dir)) == Enum.sort([backend.creds_file, backend.manifest_file])

        assert Parity.read_manifest(kind, dir) ==
                 %{"backend" => backend.backend_id, "version" => 1, "key_index" => %{}}

        newer = %{Parity.creds(kind, 12) | me: nil, account: nil, registered: false}
        assert impl.save_credentials(dir, newer) == :ok
        assert impl.load_credentials(dir) == {:ok, newer}

        fresh = State.new()
        assert impl.save_credentials(dir, fresh) == :ok
        assert impl.load_credentials(dir) == {:ok, fresh}
        assert Enum.sort(File.ls!(dir)) == Enum.sort([backend.creds_file, backend.manifest_file])
      end

      if kind == :json do
        test "additional_data that is not JSON-safe is refused before anything is written",
             ctx do
          %{impl: impl, tmp_dir: dir} = ctx
          state = Parity.creds(:json, 13)

          assert impl.save_credentials(dir, %{state | additional_data: %{labels: ["a"]}}) ==
                   {:error,
                    {:invalid_additional_data,
                     "additional_data contains a atom (:labels) map key at path " <>
                       "[:additional_data]; only string keys are supported"}}

          for {bad, kind_word, path} <- [
                {%{"t" => {1, 2}}, "tuple", [:additional_data, "t"]},
                {%{"a" => [1, self()]}, "pid", [:additional_data, "a", 1]},
                {%{"k" => :value}, "atom (:value)", [:additional_data, "k"]}
              ] do
            assert {:error, {:invalid_additional_data, message}} =
                     impl.save_credentials(dir, %{state | additional_data: bad})

            assert message =~ "additional_data contains a #{kind_word}"
            assert message =~ inspect(path)
          end

          refute File.exists?(Path.join(dir, "creds.json"))
          refute File.exists?(Path.join(dir, Backends.fetch!(:json).manifest_file))
        end

        test "a key value with no JSON form is an ArgumentError and writes no key", ctx do
          %{impl: impl, tmp_dir: dir} = ctx

          for {type, id, value} <- [
                {:"device-list", "15551112222", ["0", :one]},
                {:"sender-key-memory", "120363000000000002@g.us", %{"jid" => {true}}},
                {:"lid-mapping", "15551112222", URI.parse("https://example.com")}
              ] do
            assert {:error, %ArgumentError{}} = impl.save_keys(dir, type, id, value)
            refute File.exists?(Path.join(dir, Parity.key_file(:json, type, id)))
          end

          assert impl.list_persisted_keys(dir) == {:ok, %{}}
        end

        test "legacy JSON files written by older versions load", ctx do
          %{impl: impl, tmp_dir: tmp} = ctx
          dir = Fixtures.copy_to_tmp(:json_legacy, tmp)
          expected = Fixtures.expected_legacy()

          assert impl.load_credentials(dir) == {:ok, expected.creds}
          assert map_size(expected.keys) > 10

          for {{type, id}, value} <- expected.keys do
            assert impl.load_keys(dir, type, id) == {:ok, value},
                   "load_keys(#{inspect(type)}, #{inspect(id)})"
          end

          assert impl.list_persisted_keys(dir) == {:ok, expected.index}
        end
      end

      if kind == :etf do
        test "key values may be any term", ctx do
          %{impl: impl, tmp_dir: dir} = ctx

          value = %{
            {:tuple, 1} => [self(), make_ref()],
            :atom => {1.5, -(2 ** 80), [1 | 2], ~c"chars"},
            "bin" => <<0, 255>>,
            nil => MapSet.new([:a, "b"])
          }

          for type <- [:session, :"device-list", :"custom-type"] do
            assert impl.save_keys(dir, type, "any", value) == :ok
            assert impl.load_keys(dir, type, "any") == {:ok, value}
          end
        end
      end

      test "a key of every persisted type round-trips with a realistic value", ctx do
        %{impl: impl, kind: kind, tmp_dir: dir} = ctx
        samples = Parity.sample_keys()

        assert samples |> Enum.map(&elem(&1, 0)) |> Enum.uniq() |> Enum.sort() ==
                 Enum.sort(Parity.persisted_types())

        for {type, id, value} <- samples do
          assert impl.save_keys(dir, type, id, value) == :ok,
                 "save_keys(#{inspect(type)}, #{inspect(id)})"

          assert File.regular?(Path.join(dir, Parity.key_file(kind, type, id)))
        end

        for {type, id, value} <- samples do
          assert impl.load_keys(dir, type, id) == {:ok, Parity.loaded(kind, type, value)},
                 "load_keys(#{inspect(type)}, #{inspect(id)})"
        end

        expected_index =
          samples
          |> Enum.group_by(&elem(&1, 0), &elem(&1, 1))
          |> Map.new(fn {type, ids} -> {type, ids |> Enum.uniq() |> Enum.sort()} end)

        assert impl.list_persisted_keys(dir) == {:ok, expected_index}
      end

      test "sender-key message keys come back with their HKDF-derived iv and cipher key",
           ctx do
        %{impl: impl, tmp_dir: dir} = ctx
        id = "120363000000000002@g.us::15551112222::3"
        record = Parity.sender_key_record(3)

        assert impl.save_keys(dir, :"sender-key", id, record) == :ok
        assert {:ok, loaded} = impl.load_keys(dir, :"sender-key", id)
        assert loaded == record

        [state | _] = loaded.sender_key_states
        assert length(state.sender_message_keys) == 3

        for key <- state.sender_message_keys do
          prk = :crypto.mac(:hmac, :sha256, <<0::256>>, key.seed)
          t1 = :crypto.mac(:hmac, :sha256, prk, ["WhisperGroup", 1])
          t2 = :crypto.mac(:hmac, :sha256, prk, [t1, "WhisperGroup", 2])
          assert key.iv <> key.cipher_key == binary_part(t1 <> t2, 0, 48)
        end
      end

      test "session records keyed by non-UTF-8 binaries round-trip", ctx do
        %{impl: impl, tmp_dir: dir} = ctx
        base_key = Parity.non_utf8_base_key()
        refute String.valid?(base_key)
        message_keys = %{0 => <<1, 2>>, 1 => <<3, 4>>, 7 => <<42, 43, 44>>}

        record = %SessionRecord{
          sessions: %{
            base_key => Parity.small_session(base_key, message_keys),
            <<0, 255, 128>> => session_without_pending(<<0, 255, 128>>)
          }
        }

        assert impl.save_keys(dir, :session, "16268980123.0", record) == :ok
        assert impl.load_keys(dir, :session, "16268980123.0") == {:ok, record}
      end

      test "the fixture directory written by BaileysEx loads back", ctx do
        %{impl: impl, kind: kind, tmp_dir: tmp} = ctx
        dir = Fixtures.copy_to_tmp(kind, tmp)
        expected = Fixtures.expected(kind)
        before = DirSnapshot.take(dir)

        assert impl.load_credentials(dir) == {:ok, expected.creds}
        assert map_size(expected.keys) > 20

        for {{type, id}, value} <- expected.keys do
          assert impl.load_keys(dir, type, id) == {:ok, value},
                 "load_keys(#{inspect(type)}, #{inspect(id)})"
        end

        assert impl.list_persisted_keys(dir) == {:ok, Map.fetch!(Fixtures.expected_index(), kind)}
        assert DirSnapshot.take(dir) == before
      end

      test "saving a key again replaces it; integer ids are saved under to_string", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: dir} = ctx
        first = DeterministicAuth.x25519_key_pair(7)
        second = DeterministicAuth.x25519_key_pair(8)

        assert impl.save_keys(dir, :"pre-key", 7, first) == :ok
        assert File.regular?(Path.join(dir, "pre-key-7" <> backend.ext))
        assert impl.load_keys(dir, :"pre-key", 7) == {:ok, first}
        assert impl.load_keys(dir, :"pre-key", "7") == {:ok, first}

        assert impl.save_keys(dir, :"pre-key", "7", second) == :ok
        assert impl.load_keys(dir, :"pre-key", 7) == {:ok, second}
        assert impl.list_persisted_keys(dir) == {:ok, %{"pre-key": ["7"]}}
        assert Parity.read_manifest(kind, dir)["key_index"] == %{"pre-key" => ["7"]}

        assert impl.delete_keys(dir, :"pre-key", 7) == :ok
        assert impl.load_keys(dir, :"pre-key", "7") == {:error, :not_found}
        assert Parity.read_manifest(kind, dir)["key_index"] == %{"pre-key" => []}
      end

      test "a missing key is :not_found and loading it writes nothing", ctx do
        %{impl: impl, tmp_dir: dir} = ctx

        assert impl.list_persisted_keys(dir) == {:ok, %{}}
        assert impl.load_keys(dir, :session, "15551112222.1") == {:error, :not_found}
        assert impl.load_keys(dir, :"custom-type", "x") == {:error, :not_found}
        assert File.ls!(dir) == []

        assert impl.save_keys(dir, :session, "a", Parity.session_record(1)) == :ok
        assert impl.load_keys(dir, :session, "b") == {:error, :not_found}
        assert impl.load_keys(dir, :"pre-key", "a") == {:error, :not_found}
        assert impl.load_keys(dir, :"identity-key", "a") == {:error, :not_found}
      end

      test "delete removes the file and its index entry; a missing key is :ok", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: dir} = ctx
        record = Parity.session_record(2)

        assert impl.save_keys(dir, :session, "a.0", record) == :ok
        assert impl.save_keys(dir, :session, "b.0", record) == :ok

        assert impl.delete_keys(dir, :session, "a.0") == :ok
        refute File.exists?(Path.join(dir, Parity.key_file(kind, :session, "a.0")))
        assert impl.load_keys(dir, :session, "a.0") == {:error, :not_found}
        assert impl.load_keys(dir, :session, "b.0") == {:ok, record}
        assert impl.list_persisted_keys(dir) == {:ok, %{session: ["b.0"]}}
        assert Parity.read_manifest(kind, dir)["key_index"] == %{"session" => ["b.0"]}

        assert impl.delete_keys(dir, :session, "a.0") == :ok
        assert impl.delete_keys(dir, :session, "b.0") == :ok
        assert impl.list_persisted_keys(dir) == {:ok, %{session: []}}
        assert Parity.read_manifest(kind, dir)["key_index"] == %{"session" => []}
        assert File.ls!(dir) == [backend.manifest_file]
      end

      test "deleting from a directory without a manifest writes nothing", ctx do
        %{impl: impl, tmp_dir: tmp} = ctx
        dir = Path.join(tmp, "auth")

        assert impl.delete_keys(dir, :session, "a.0") == :ok
        assert impl.delete_keys(dir, :"custom-type", "x") == :ok
        assert File.ls!(dir) == []
      end

      test "orphan temp files are ignored; the committed values win", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: tmp} = ctx
        {dir, other} = {Path.join(tmp, "auth"), Path.join(tmp, "other")}
        committed = Parity.creds(kind, 15)
        id = "15551234567"
        key_file = Parity.key_file(kind, :"device-list", id)

        assert impl.save_credentials(dir, committed) == :ok
        assert impl.save_keys(dir, :"device-list", id, ["0", "2"]) == :ok

        # Each orphan is a complete file of another value, left by a writer
        # that stopped before its rename.
        assert impl.save_credentials(other, Parity.creds(kind, 16)) == :ok
        assert impl.save_keys(other, :"device-list", id, ["9"]) == :ok

        for {name, tail} <- [{backend.creds_file, ".tmp-12345"}, {key_file, ".tmp-98765"}] do
          File.cp!(Path.join(other, name), Path.join(dir, name <> tail))
        end

        assert impl.load_credentials(dir) == {:ok, committed}
        assert impl.load_keys(dir, :"device-list", id) == {:ok, ["0", "2"]}
        assert impl.list_persisted_keys(dir) == {:ok, %{"device-list": [id]}}
      end

      test "the manifest keeps every persisted type's ids unique and sorted", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: dir} = ctx
        pair = DeterministicAuth.x25519_key_pair(9)

        assert impl.save_keys(dir, :session, "s1", Parity.session_record(1)) == :ok
        assert impl.save_keys(dir, :session, "s0", Parity.session_record(1)) == :ok
        assert impl.save_keys(dir, :session, "s1", Parity.session_record(2)) == :ok
        assert impl.save_keys(dir, :"pre-key", 5, pair) == :ok
        assert impl.save_keys(dir, :"custom-type", "c", ["unlisted"]) == :ok
        assert impl.delete_keys(dir, :"pre-key", "5") == :ok
        assert impl.delete_keys(dir, :"lid-mapping", "absent") == :ok

        assert Parity.read_manifest(kind, dir) == %{
                 "backend" => backend.backend_id,
                 "version" => 1,
                 "key_index" => %{"session" => ["s0", "s1"], "pre-key" => [], "lid-mapping" => []}
               }

        assert impl.load_keys(dir, :"custom-type", "c") == {:ok, ["unlisted"]}
      end

      test "other key types are saved and loaded but never indexed or listed", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: dir} = ctx
        value = %{"list" => [1, "two", nil, true], "raw" => <<0, 1>>}

        assert impl.save_keys(dir, :"custom-type", "x", value) == :ok
        assert File.regular?(Path.join(dir, "custom-type-x" <> backend.ext))
        assert impl.load_keys(dir, :"custom-type", "x") == {:ok, value}
        assert Parity.read_manifest(kind, dir)["key_index"] == %{}
        assert impl.list_persisted_keys(dir) == {:ok, %{}}
      end

      test "a manifest written by someone else is normalised on read and on rewrite", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: dir} = ctx

        foreign = %{
          "backend" => backend.backend_id,
          "version" => 1,
          "key_index" => %{
            "session" => ["b", "a", "a", 3],
            "pre-key" => "single",
            "bogus" => ["x"]
          },
          "extra" => true
        }

        File.write!(Path.join(dir, backend.manifest_file), Parity.encode_manifest(kind, foreign))

        assert impl.list_persisted_keys(dir) ==
                 {:ok, %{session: ["a", "b"], "pre-key": ["single"]}}

        assert impl.save_keys(dir, :session, "c", Parity.session_record(3)) == :ok

        assert Parity.read_manifest(kind, dir) == %{
                 "backend" => backend.backend_id,
                 "version" => 1,
                 "key_index" => %{"session" => ["a", "b", "c"], "pre-key" => ["single"]}
               }
      end

      test "file names are sanitised and both spellings reach the same file", ctx do
        %{impl: impl, kind: kind, backend: %{ext: ext}, tmp_dir: dir} = ctx
        pair = DeterministicAuth.x25519_key_pair(12)

        device_file = Path.join(dir, "device-list-alice__device-0" <> ext)
        two = ["primary", "companion"]
        assert impl.save_keys(dir, :"device-list", "alice/device:0", two) == :ok
        assert_stored(kind, device_file, two)

        assert Parity.read_manifest(kind, dir)["key_index"] == %{
                 "device-list" => ["alice/device:0"]
               }

        assert impl.save_keys(dir, :"device-list", "alice/device:0", ["primary"]) == :ok
        assert impl.save_keys(dir, :"pre-key", "josé/📱:1", pair) == :ok
        assert impl.save_keys(dir, :"app-state-sync-key", "AAAA/+8x", <<1, 2, 3>>) == :ok

        assert dir |> File.ls!() |> Enum.reject(&String.starts_with?(&1, ".")) |> Enum.sort() ==
                 Enum.sort([
                   "device-list-alice__device-0" <> ext,
                   "pre-key-josé__📱-1" <> ext,
                   "app-state-sync-key-AAAA__+8x" <> ext
                 ])

        assert impl.load_keys(dir, :"device-list", "alice/device-0") == {:ok, ["primary"]}
        assert impl.load_keys(dir, :"device-list", "alice__device:0") == {:ok, ["primary"]}
        assert impl.load_keys(dir, :"device-list", "alice__device-0") == {:ok, ["primary"]}
        assert impl.load_keys(dir, :"pre-key", "josé/📱-1") == {:ok, pair}

        assert impl.save_keys(dir, :"device-list", "alice/device-0", ["companion"]) == :ok
        assert impl.load_keys(dir, :"device-list", "alice/device:0") == {:ok, ["companion"]}
        assert length(File.ls!(dir)) == 4

        # Deleting either spelling removes the one file, and only that id from the index.
        assert impl.delete_keys(dir, :"device-list", "alice/device:0") == :ok
        refute File.exists?(device_file)
        assert impl.load_keys(dir, :"device-list", "alice/device-0") == {:error, :not_found}
        assert Parity.read_manifest(kind, dir)["key_index"]["device-list"] == ["alice/device-0"]
      end

      test "list_persisted_keys merges the manifest with the lossy directory scan", ctx do
        %{impl: impl, backend: backend, tmp_dir: dir} = ctx
        record = Parity.sender_key_record(4)

        assert impl.list_persisted_keys(Path.join(dir, "new")) == {:ok, %{}}

        saves = [
          {:"device-list", "alice/device:0", ["primary"]},
          {:"pre-key", "josé/📱:1", DeterministicAuth.x25519_key_pair(13)},
          {:"pre-key", 12, DeterministicAuth.x25519_key_pair(14)},
          {:"app-state-sync-key", "AAAA/+8x", %{key_data: <<1, 2, 3>>}},
          {:"sender-key", "120363000000000002@g.us::15551112222::3", record},
          {:"sender-key", "g/x::bob::0", record},
          {:"sender-key", "weird:id", record},
          {:"sender-key-memory", "120363000000000002@g.us", %{"a@s.whatsapp.net" => true}},
          {:tctoken, "a__b@lid", %{token: "t", timestamp: "1", sender_timestamp: 2}},
          {:"lid-mapping", "x::y::1", "15551112222"},
          {:session, "15551112222.1", Parity.session_record(4)},
          {:"custom-type", "hidden", ["not listed"]}
        ]

        for {type, id, value} <- saves, do: assert(impl.save_keys(dir, type, id, value) == :ok)

        expected = %{
          "device-list": ["alice/device-0", "alice/device:0"],
          "pre-key": Enum.sort(["12", "josé/📱-1", "josé/📱:1"]),
          "app-state-sync-key": ["AAAA/+8x"],
          "sender-key":
            Enum.sort([
              "120363000000000002@g.us::15551112222::3",
              "g/x::bob::0",
              "weird-id",
              "weird:id"
            ]),
          "sender-key-memory": ["120363000000000002@g.us"],
          tctoken: ["a/b@lid", "a__b@lid"],
          "lid-mapping": ["x--y--1", "x::y::1"],
          session: ["15551112222.1"]
        }

        assert impl.list_persisted_keys(dir) == {:ok, expected}

        # Scan only (a file nobody indexed) and manifest only (an indexed file that is gone).
        ext = backend.ext

        File.cp!(
          Path.join(dir, "session-15551112222.1" <> ext),
          Path.join(dir, "session-copied__by:hand" <> ext)
        )

        File.rm!(Path.join(dir, "lid-mapping-x--y--1" <> ext))

        assert impl.list_persisted_keys(dir) ==
                 {:ok,
                  %{
                    expected
                    | session: ["15551112222.1", "copied/by:hand"],
                      "lid-mapping": ["x::y::1"]
                  }}
      end

      test "the scan restores the sender-key id pattern only for sender keys", ctx do
        %{impl: impl, kind: kind, backend: %{ext: ext}, tmp_dir: dir} = ctx

        for name <- [
              "sender-key-120363@g.us--15550001111--3",
              "sender-key-weird--name",
              "device-list-a--b--0",
              "sender-key-memory-a--b--0",
              "session-x__y"
            ] do
          File.write!(Path.join(dir, name <> ext), Parity.encode_manifest(kind, %{}))
        end

        assert impl.list_persisted_keys(dir) ==
                 {:ok,
                  %{
                    "sender-key": ["120363@g.us::15550001111::3", "weird--name"],
                    "device-list": ["a--b--0"],
                    "sender-key-memory": ["a--b--0"],
                    session: ["x/y"]
                  }}
      end

      test "the scan skips creds, the manifest, temp files, other names and extensions",
           ctx do
        %{impl: impl, kind: kind, backend: %{ext: ext} = backend, tmp_dir: dir} = ctx
        other_ext = Backends.other(backend).ext

        assert impl.save_credentials(dir, Parity.creds(kind, 14)) == :ok
        assert impl.save_keys(dir, :session, "kept", Parity.session_record(5)) == :ok

        for name <- [
              "session-half-written" <> ext <> ".tmp-123",
              "creds" <> ext <> ".tmp-2",
              "session-half.tmp-9" <> ext,
              "session-backup" <> ext <> ".bak",
              "session-foreign" <> other_ext,
              "random" <> ext,
              "sessionless" <> ext,
              "custom-type-x" <> ext,
              "session-no-extension"
            ] do
          File.write!(Path.join(dir, name), "not read")
        end

        assert impl.list_persisted_keys(dir) == {:ok, %{session: ["kept"]}}
      end

      test "the auth-state helper returns the state, connect_opts and save_creds", ctx do
        %{impl: impl, kind: kind, helper: helper, backend: backend, tmp_dir: tmp} = ctx
        dir = Path.join(tmp, "auth")

        assert {:ok,
                %{
                  state: %State{registered: false} = initial,
                  connect_opts: opts,
                  save_creds: save
                }} = apply(impl, helper, [dir])

        assert File.ls!(dir) == []

        # Ours names its own Signal store; the originals name BaileysEx's.
        store =
          if impl == backend.module,
            do: BaileysEx.Auth.NIF.KeyStore,
            else: BaileysEx.Auth.KeyStore

        assert opts == [
                 signal_store_module: store,
                 signal_store_opts: [persistence_module: impl, persistence_context: dir]
               ]

        assert is_function(save, 1)

        creds = Parity.creds(kind, 21)
        assert save.(creds) == :ok
        assert impl.load_credentials(dir) == {:ok, creds}
        assert {:ok, %{state: ^creds}} = apply(impl, helper, [dir])

        projected = Parity.creds(kind, 22)
        assert save.(%{creds: Map.from_struct(projected), keys: :ignored}) == :ok
        assert impl.load_credentials(dir) == {:ok, projected}

        assert save.(Map.from_struct(creds)) == :ok
        assert impl.load_credentials(dir) == {:ok, creds}

        flat = creds |> Map.from_struct() |> Map.merge(%{platform: "flat", not_a_field: true})
        assert save.(flat) == :ok
        assert impl.load_credentials(dir) == {:ok, %{creds | platform: "flat"}}

        assert save.(:not_a_state) == :ok
        assert File.regular?(Path.join(dir, backend.creds_file))
        assert {:ok, %State{registered: false} = fresh} = impl.load_credentials(dir)
        assert %{public: <<_::binary-32>>, private: <<_::binary-32>>} = fresh.noise_key
        assert fresh.noise_key != creds.noise_key
        assert fresh.noise_key != initial.noise_key
      end

      test "connect_opts carry the directory exactly as it was given", ctx do
        %{impl: impl, helper: helper, tmp_dir: tmp} = ctx

        for given <- [Path.join(tmp, "auth") <> "/", Path.join([tmp, ".", "other"])] do
          assert {:ok, %{connect_opts: opts}} = apply(impl, helper, [given])
          assert opts[:signal_store_opts][:persistence_context] == given
        end
      end

      test "a manifest of the other backend is refused by every call", ctx do
        %{backend: backend, tmp_dir: dir} = ctx
        other = Backends.other(backend).backend_id
        manifest = %{"backend" => other, "version" => 1, "key_index" => %{}}

        assert_every_call_fails(ctx, dir, manifest, fn impl ->
          {:unexpected_persistence_backend, impl, other}
        end)
      end

      test "a manifest of another version is refused by every call", ctx do
        %{backend: %{backend_id: id}, tmp_dir: tmp} = ctx
        with_index = %{"backend" => id, "key_index" => %{}}
        without_index = %{"backend" => id}

        # A version that is not an integer falls through to the backend check.
        cases =
          for(version <- [2, 99], do: {version, {:unsupported_persistence_version, version}}) ++
            for(version <- ["1", 1.0, nil], do: {version, {:unexpected_persistence_backend, id}})

        for {{version, {reason, detail}}, i} <- Enum.with_index(cases),
            {manifest, j} <- Enum.with_index([with_index, without_index]) do
          assert_every_call_fails(
            ctx,
            Path.join(tmp, "case_#{i}_#{j}"),
            Map.put(manifest, "version", version),
            fn impl -> {reason, impl, detail} end
          )
        end
      end

      test "a manifest of the wrong shape is invalid metadata", ctx do
        %{impl: impl, kind: kind, backend: backend, tmp_dir: tmp} = ctx

        shapes =
          [
            [1, 2],
            %{"version" => 1, "key_index" => %{}},
            %{"version" => 1},
            backend.backend_id,
            7
          ] ++ if kind == :etf, do: [%{backend: "x"}], else: []

        for {shape, i} <- Enum.with_index(shapes) do
          assert_every_call_fails(ctx, Path.join(tmp, "shape_#{i}"), shape, fn impl ->
            {:invalid_persistence_metadata, impl, shape}
          end)
        end

        dir = Path.join(tmp, "garbage")
        File.mkdir_p!(dir)
        manifest = Path.join(dir, backend.manifest_file)
        File.write!(manifest, "garbage")

        assert {:error, {:invalid_persistence_metadata, ^impl, _detail}} =
                 impl.load_credentials(dir)

        assert {:error, {:invalid_persistence_metadata, ^impl, _detail}} =
                 impl.load_keys(dir, :session, "x")

        assert {:error, {:invalid_persistence_metadata, ^impl, _detail}} =
                 impl.save_keys(dir, :session, "x", Parity.session_record(1))

        assert {:error, {:invalid_persistence_metadata, ^impl, _detail}} =
                 impl.list_persisted_keys(dir)

        assert File.ls!(dir) == [backend.manifest_file]
        assert File.read!(manifest) == "garbage"
      end

      test "KeyStore-style dispatch reaches the context-aware functions", ctx do
        %{impl: impl, kind: kind, helper: helper, tmp_dir: tmp} = ctx

        for {fun, arity} <- [
              load_credentials: 0,
              load_credentials: 1,
              save_credentials: 1,
              save_credentials: 2,
              load_keys: 2,
              load_keys: 3,
              save_keys: 3,
              save_keys: 4,
              delete_keys: 2,
              delete_keys: 3
            ] do
          assert function_exported?(impl, fun, arity), "#{fun}/#{arity} is not exported"
        end

        {:ok, %{connect_opts: opts}} = apply(impl, helper, [Path.join(tmp, "auth")])
        store_opts = Keyword.fetch!(opts, :signal_store_opts)
        module = Keyword.fetch!(store_opts, :persistence_module)
        context = Keyword.fetch!(store_opts, :persistence_context)
        assert module == impl

        for {type, id, value} <- Parity.sample_keys() do
          assert KeyStoreDispatch.call(module, context, :save_keys, [type, id, value]) == :ok
          assert File.regular?(Path.join(context, Parity.key_file(kind, type, id)))

          assert KeyStoreDispatch.call(module, context, :load_keys, [type, id]) ==
                   {:ok, Parity.loaded(kind, type, value)}
        end

        {type, id, _value} = hd(Parity.sample_keys())
        assert KeyStoreDispatch.call(module, context, :delete_keys, [type, id]) == :ok

        assert KeyStoreDispatch.call(module, context, :load_keys, [type, id]) ==
                 {:error, :not_found}

        assert KeyStoreDispatch.call(module, context, :delete_keys, [type, id]) == :ok
      end
    end
  end

  # Writes `manifest` into a fresh `dir`, then checks that every public call
  # (and the auth-state helper) returns `{:error, error.(impl)}` and leaves
  # the directory as it was.
  defp assert_every_call_fails(ctx, dir, manifest, error) do
    %{impl: impl, kind: kind, helper: helper, backend: backend} = ctx
    File.mkdir_p!(dir)
    File.write!(Path.join(dir, backend.manifest_file), Parity.encode_manifest(kind, manifest))

    before = DirSnapshot.take(dir)
    expected = {:error, error.(impl)}

    calls = [
      load_credentials: fn -> impl.load_credentials(dir) end,
      save_credentials: fn -> impl.save_credentials(dir, Parity.creds(:json, 31)) end,
      load_keys: fn -> impl.load_keys(dir, :"device-list", "15551112222") end,
      save_keys: fn -> impl.save_keys(dir, :"device-list", "15551112222", ["0"]) end,
      delete_keys: fn -> impl.delete_keys(dir, :"device-list", "15551112222") end,
      list_persisted_keys: fn -> impl.list_persisted_keys(dir) end,
      helper: fn -> apply(impl, helper, [dir]) end
    ]

    for {name, call} <- calls do
      assert call.() == expected, "#{name} on #{inspect(manifest)}"
    end

    assert DirSnapshot.take(dir) == before
  end

  defp session_without_pending(base_key) do
    %{
      Parity.small_session(base_key, %{})
      | pending_pre_key: nil,
        chains: %{
          <<200, 201>> => %{
            chain_key: %{counter: 0, key: <<1>>},
            chain_type: :sending,
            message_keys: %{}
          }
        }
    }
  end

  # A key file holds the value in its backend's encoding: for ETF exactly the
  # bytes term_to_binary/1 gives, for JSON a document that decodes to it.
  defp assert_stored(:etf, path, value),
    do: assert(File.read!(path) == :erlang.term_to_binary(value))

  defp assert_stored(:json, path, value), do: assert(Parity.decode_json_file!(path) == value)
end
