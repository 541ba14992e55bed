defmodule BaileysEx.Auth.NIF.DropInTest do
  @moduledoc """
  What both NIF backends promise beyond the originals, written once and run
  per backend (`BaileysEx.Auth.NIF.Test.Backends`): bad arguments come back
  as error tuples (the originals raise), an unchanged manifest is not
  rewritten (the originals rewrite it on every call), and concurrent writers
  lose no index entry. Behaviour shared with the originals is in
  `parity/contract_test.exs`; what only one file format has is in that
  backend's own test files.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.Parity
  alias BaileysEx.Signal.SessionRecord

  for backend <- Backends.all() do
    describe backend.title do
      @describetag :tmp_dir
      @describetag backend: backend

      test "a context that is not a binary is refused by every call", ctx do
        %{backend: %{module: m, name: kind, helper: helper}, tmp_dir: tmp_dir} = ctx
        state = Parity.creds(kind, 300)

        for context <- [42, ~c"auth_dir", %{path: tmp_dir}, {:dir, tmp_dir}, :auth_dir, 1.5] do
          error = {:error, {:invalid_context, context}}

          assert m.load_credentials(context) == error
          assert m.save_credentials(context, state) == error
          assert m.load_keys(context, :session, "a.0") == error
          assert m.save_keys(context, :session, "a.0", SessionRecord.new()) == error
          assert m.delete_keys(context, :session, "a.0") == error
          assert m.list_persisted_keys(context) == error
          assert apply(m, helper, [context]) == error
        end

        assert File.ls!(tmp_dir) == []
      end

      test "the auth-state helper names our Signal store, or the one given", ctx do
        %{backend: %{module: m, helper: helper}, tmp_dir: tmp_dir} = ctx
        store_opts = [persistence_module: m, persistence_context: tmp_dir]

        assert {:ok, %{connect_opts: opts}} = apply(m, helper, [tmp_dir])

        assert opts == [
                 signal_store_module: BaileysEx.Auth.NIF.KeyStore,
                 signal_store_opts: store_opts
               ]

        assert {:ok, %{connect_opts: opts}} =
                 apply(m, helper, [tmp_dir, [signal_store_module: BaileysEx.Auth.KeyStore]])

        assert opts == [
                 signal_store_module: BaileysEx.Auth.KeyStore,
                 signal_store_opts: store_opts
               ]

        assert apply(m, helper, [tmp_dir, [signal_store: :nif]]) ==
                 {:error, {:unknown_options, [:signal_store]}}

        for bad <- [nil, "BaileysEx.Auth.KeyStore", {:store}] do
          assert apply(m, helper, [tmp_dir, [signal_store_module: bad]]) ==
                   {:error, {:invalid_signal_store_module, bad}}
        end

        for bad <- [%{}, [:signal_store_module], :x] do
          assert apply(m, helper, [tmp_dir, bad]) == {:error, {:invalid_options, bad}}
        end

        assert File.ls!(tmp_dir) == []
      end

      test "a key type that is not an atom is refused", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx

        for type <- ["session", 1, {:session}, [:session], self()] do
          error = {:error, {:invalid_key_type, type}}

          assert m.load_keys(tmp_dir, type, "a.0") == error
          assert m.save_keys(tmp_dir, type, "a.0", []) == error
          assert m.delete_keys(tmp_dir, type, "a.0") == error
        end

        assert File.ls!(tmp_dir) == []
      end

      test "a key id without String.Chars is refused", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx

        for id <- [self(), %{a: 1}, {1, 2}, make_ref(), fn -> :ok end] do
          error = {:error, {:invalid_key_id, id}}

          assert m.load_keys(tmp_dir, :session, id) == error
          assert m.save_keys(tmp_dir, :session, id, []) == error
          assert m.delete_keys(tmp_dir, :session, id) == error
        end

        assert File.ls!(tmp_dir) == []
      end

      test "credentials that are not a State struct are refused", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx

        for creds <- [%{}, %{platform: "x"}, nil, "creds", {:state}, [registered: true]] do
          assert m.save_credentials(tmp_dir, creds) == {:error, {:invalid_credentials, creds}}
        end

        assert File.ls!(tmp_dir) == []
      end

      test "re-saving an indexed key or unchanged credentials does not rewrite the manifest",
           ctx do
        %{backend: %{module: m, name: kind} = backend, tmp_dir: dir} = ctx
        manifest = Path.join(dir, backend.manifest_file)
        state = Parity.creds(kind, 70)

        assert m.save_credentials(dir, state) == :ok
        assert m.save_keys(dir, :session, "a.0", SessionRecord.new()) == :ok
        first = File.stat!(manifest)
        bytes = File.read!(manifest)

        for seed <- 1..4 do
          assert m.save_keys(dir, :session, "a.0", Parity.session_record(seed)) == :ok
        end

        assert m.save_keys(dir, :"not-indexed", "x", ["never listed"]) == :ok
        assert m.save_credentials(dir, %{state | platform: "again"}) == :ok
        assert m.delete_keys(dir, :session, "never-saved.0") == :ok

        assert File.stat!(manifest).inode == first.inode
        assert File.read!(manifest) == bytes
        assert m.load_keys(dir, :session, "a.0") == {:ok, Parity.session_record(4)}

        assert m.save_keys(dir, :session, "b.0", SessionRecord.new()) == :ok
        assert File.stat!(manifest).inode != first.inode
        assert Parity.read_manifest(kind, dir)["key_index"] == %{"session" => ["a.0", "b.0"]}
      end

      test "another writer's manifest change is seen by the next call", ctx do
        %{backend: %{module: m, name: kind} = backend, tmp_dir: dir} = ctx
        pair = DeterministicAuth.x25519_key_pair(7)

        assert m.save_keys(dir, :session, "1.0", Parity.session_record(1)) == :ok
        assert {:ok, _} = m.load_keys(dir, :session, "1.0")

        # The pure-Elixir twin rewrites the manifest behind the NIF's cache.
        assert backend.twin.save_keys(dir, :"pre-key", "7", pair) == :ok
        assert m.save_keys(dir, :session, "2.0", Parity.session_record(2)) == :ok

        assert Parity.read_manifest(kind, dir)["key_index"] ==
                 %{"pre-key" => ["7"], "session" => ["1.0", "2.0"]}

        other = Backends.other(backend).backend_id

        File.write!(
          Path.join(dir, backend.manifest_file),
          Parity.encode_manifest(kind, %{"backend" => other})
        )

        assert m.load_keys(dir, :session, "1.0") ==
                 {:error, {:unexpected_persistence_backend, m, other}}
      end

      test "concurrent saves of distinct keys all reach the manifest", ctx do
        %{backend: %{module: m} = backend, tmp_dir: dir} = ctx
        {writers, keys_per_writer} = {16, 8}

        results =
          1..writers
          |> Enum.map(fn writer ->
            Task.async(fn ->
              for n <- 1..keys_per_writer do
                id = "1555#{writer}.#{n}"
                {id, m.save_keys(dir, :"device-list", id, ["#{writer}", "#{n}"])}
              end
            end)
          end)
          |> Task.await_many(60_000)
          |> List.flatten()

        assert length(results) == writers * keys_per_writer
        assert Enum.all?(results, fn {_id, result} -> result == :ok end), inspect(results)
        ids = results |> Enum.map(&elem(&1, 0)) |> Enum.sort()

        assert Parity.read_manifest(backend.name, dir) == %{
                 "backend" => backend.backend_id,
                 "version" => 1,
                 "key_index" => %{"device-list" => ids}
               }

        for writer <- 1..writers, n <- 1..keys_per_writer do
          assert m.load_keys(dir, :"device-list", "1555#{writer}.#{n}") ==
                   {:ok, ["#{writer}", "#{n}"]}
        end
      end

      test "concurrent saves of distinct types and a credential save keep every index entry",
           ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: dir} = ctx
        types = [:session, :"pre-key", :"sender-key", :"device-list", :tctoken, :"lid-mapping"]
        samples = Map.new(Parity.sample_keys(), fn {type, _id, value} -> {type, value} end)

        tasks =
          for type <- types, n <- 1..6 do
            Task.async(fn -> m.save_keys(dir, type, "id#{n}", Map.fetch!(samples, type)) end)
          end

        creds_task = Task.async(fn -> m.save_credentials(dir, Parity.creds(kind, 1)) end)

        assert Task.await_many([creds_task | tasks], 60_000) |> Enum.all?(&(&1 == :ok))

        expected_ids = for n <- 1..6, do: "id#{n}"

        assert Parity.read_manifest(kind, dir)["key_index"] ==
                 Map.new(types, &{Atom.to_string(&1), expected_ids})
      end
    end
  end
end

defmodule BaileysEx.Auth.NIF.DropInDefaultPathTest do
  # Changes application env and the working directory: must not run concurrently.
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.DirSnapshot
  alias BaileysEx.Auth.NIF.Test.KeyStoreDispatch
  alias BaileysEx.Auth.NIF.Test.Parity

  @app :baileys_ex_nif_persistence

  setup %{backend: %{module: module}} do
    previous = Application.fetch_env(@app, module)
    previous_cwd = File.cwd!()

    on_exit(fn ->
      File.cd!(previous_cwd)

      case previous do
        {:ok, value} -> Application.put_env(@app, module, value)
        :error -> Application.delete_env(@app, module)
      end
    end)

    :ok
  end

  for backend <- Backends.all() do
    describe backend.title do
      @describetag :tmp_dir
      @describetag backend: backend

      test "the context-free arity uses the configured path and matches the context arity",
           ctx do
        %{backend: %{module: m, name: kind, helper: helper}, tmp_dir: tmp_dir} = ctx
        configured = Path.join(tmp_dir, "configured")
        explicit = Path.join(tmp_dir, "explicit")
        Application.put_env(@app, m, path: configured)

        state = Parity.creds(kind, 200)
        pair = DeterministicAuth.x25519_key_pair(201)
        record = Parity.session_record(202)

        assert m.load_keys(:"pre-key", "1") == {:error, :not_found}
        assert m.load_keys(explicit, :"pre-key", "1") == {:error, :not_found}

        assert m.save_credentials(state) == :ok
        assert m.save_credentials(explicit, state) == :ok
        assert m.save_keys(:"pre-key", "1", pair) == :ok
        assert m.save_keys(explicit, :"pre-key", "1", pair) == :ok
        assert m.save_keys(:session, "x/y:0", record) == :ok
        assert m.save_keys(explicit, :session, "x/y:0", record) == :ok
        assert m.save_keys(:"device-list", "x/y:0", ["0"]) == :ok
        assert m.save_keys(explicit, :"device-list", "x/y:0", ["0"]) == :ok

        assert m.load_credentials() == {:ok, state}
        assert m.load_credentials(explicit) == {:ok, state}
        assert m.load_keys(:"pre-key", "1") == {:ok, pair}
        assert m.load_keys(explicit, :"pre-key", "1") == {:ok, pair}

        for type <- [:session, :"device-list"] do
          assert m.delete_keys(type, "x/y:0") == :ok
          assert m.delete_keys(explicit, type, "x/y:0") == :ok
          assert m.load_keys(type, "x/y:0") == {:error, :not_found}
        end

        assert m.list_persisted_keys(configured) == m.list_persisted_keys(explicit)
        assert m.list_persisted_keys(nil) == m.list_persisted_keys(explicit)
        assert DirSnapshot.take(configured) == DirSnapshot.take(explicit)

        assert {:ok, auth} = apply(m, helper, [])
        assert auth.state == state

        assert auth.connect_opts[:signal_store_opts] == [
                 persistence_module: m,
                 persistence_context: configured
               ]
      end

      test "a nil context means the default path", ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: tmp_dir} = ctx
        configured = Path.join(tmp_dir, "configured")
        Application.put_env(@app, m, path: configured)
        token = %{token: <<1>>, timestamp: "1710000000"}
        loaded = {:ok, Parity.loaded(kind, :tctoken, token)}

        assert m.save_keys(nil, :tctoken, "a@s.whatsapp.net", token) == :ok
        assert m.load_keys(configured, :tctoken, "a@s.whatsapp.net") == loaded
        assert m.load_keys(nil, :tctoken, "a@s.whatsapp.net") == loaded
      end

      test "without configuration the default directory is under the cwd", ctx do
        %{backend: %{module: m, helper: helper} = backend, tmp_dir: tmp_dir} = ctx
        Application.delete_env(@app, m)
        File.cd!(tmp_dir)
        expected = Path.join(File.cwd!(), backend.default_dir)

        assert m.save_keys(:"device-list", "d", ["0"]) == :ok
        assert File.exists?(Path.join(expected, "device-list-d" <> backend.ext))
        assert m.load_keys(nil, :"device-list", "d") == {:ok, ["0"]}

        assert {:ok, auth} = apply(m, helper, [])
        assert auth.connect_opts[:signal_store_opts][:persistence_context] == expected
      end

      test "with a nil context the dispatch uses the context-free arity and the configured path",
           ctx do
        %{backend: %{module: m, ext: ext}, tmp_dir: tmp_dir} = ctx
        configured = Path.join(tmp_dir, "configured")
        Application.put_env(@app, m, path: configured)
        pair = DeterministicAuth.x25519_key_pair(7)
        dispatch = fn context, fun, args -> KeyStoreDispatch.call(m, context, fun, args) end

        assert dispatch.(nil, :save_keys, [:"pre-key", 7, pair]) == :ok
        assert File.exists?(Path.join(configured, "pre-key-7" <> ext))
        assert m.load_keys(configured, :"pre-key", "7") == {:ok, pair}
        assert dispatch.(nil, :load_keys, [:"pre-key", 7]) == {:ok, pair}
        assert dispatch.(nil, :delete_keys, [:"pre-key", 7]) == :ok
        assert dispatch.(nil, :load_keys, [:"pre-key", 7]) == {:error, :not_found}

        other = Path.join(tmp_dir, "other")
        assert dispatch.(other, :save_keys, [:"pre-key", 8, pair]) == :ok
        assert File.exists?(Path.join(other, "pre-key-8" <> ext))
        refute File.exists?(Path.join(configured, "pre-key-8" <> ext))
      end
    end
  end
end
