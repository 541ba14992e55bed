defmodule BaileysEx.Auth.NIF.BaselineTest do
  # Not async: one test traces calls of this process and another holds a
  # global lock that the baseline modules share across processes.
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.Baseline.FilePersistence, as: JSONBaseline
  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.Baseline.NativeFilePersistence, as: ETFBaseline
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.State

  @etf_manifest Backends.fetch!(:etf).manifest_file
  @json_manifest Backends.fetch!(:json).manifest_file

  setup do
    dir = Path.join(System.tmp_dir!(), "baseline_test_#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    {:ok, tmp: dir}
  end

  defp replay(module, dir) do
    for op <- Fixtures.ops() do
      result =
        case op do
          {:creds, state} -> module.save_credentials(dir, state)
          {:save, type, id, value, _note} -> module.save_keys(dir, type, id, value)
          {:delete, type, id, _note} -> module.delete_keys(dir, type, id)
        end

      assert result == :ok, "#{inspect(elem(op, 0))} failed: #{inspect(result)}"
    end

    :ok
  end

  defp sorted_ls(dir), do: dir |> File.ls!() |> Enum.sort()

  defp json_file!(path) do
    {:ok, decoded} = path |> File.read!() |> JSONCodec.decode()
    decoded
  end

  describe "ETF baseline against fixtures" do
    test "loads creds and every key exactly", %{tmp: tmp} do
      dir = Fixtures.copy_to_tmp(:etf, tmp)
      expected = Fixtures.expected()

      assert ETFBaseline.load_credentials(dir) == {:ok, expected.creds}
      assert map_size(expected.keys) > 0

      for {{type, id}, value} <- expected.keys do
        assert ETFBaseline.load_keys(dir, type, id) == {:ok, value},
               "mismatch for #{inspect({type, id})}"
      end
    end

    test "list_persisted_keys equals the recorded index", %{tmp: tmp} do
      dir = Fixtures.copy_to_tmp(:etf, tmp)
      assert ETFBaseline.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().etf}
    end

    test "replaying ops writes the same files", %{tmp: tmp} do
      dir = Path.join(tmp, "replay")
      :ok = replay(ETFBaseline, dir)
      fixture_dir = Fixtures.dir(:etf)

      assert sorted_ls(dir) == sorted_ls(fixture_dir)

      same_otp? = :erlang.system_info(:otp_release) == ~c"25"

      for name <- sorted_ls(fixture_dir) do
        ours = File.read!(Path.join(dir, name))
        theirs = File.read!(Path.join(fixture_dir, name))

        if same_otp? do
          assert ours == theirs, "bytes differ for #{name}"
        else
          assert :erlang.binary_to_term(ours) == :erlang.binary_to_term(theirs),
                 "terms differ for #{name}"
        end
      end

      assert ETFBaseline.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().etf}
    end
  end

  describe "JSON baseline against fixtures" do
    test "loads creds and every key as the original does", %{tmp: tmp} do
      dir = Fixtures.copy_to_tmp(:json, tmp)
      expected = Fixtures.expected_json()

      assert JSONBaseline.load_credentials(dir) == {:ok, expected.creds}
      assert map_size(expected.keys) > 0

      for {{type, id}, value} <- expected.keys do
        assert JSONBaseline.load_keys(dir, type, id) == {:ok, value},
               "mismatch for #{inspect({type, id})}"
      end
    end

    test "every json file is covered by the expected terms" do
      expected = Fixtures.expected_json()
      listed = for {{type, id}, _} <- expected.keys, do: {type, id}

      files =
        Fixtures.dir(:json)
        |> File.ls!()
        |> Enum.reject(&(&1 in ["creds.json", @json_manifest]))

      assert length(files) == length(listed)
    end

    test "loads every legacy sample exactly", %{tmp: tmp} do
      dir = Fixtures.copy_to_tmp(:json_legacy, tmp)
      expected = Fixtures.expected_legacy()

      assert JSONBaseline.load_credentials(dir) == {:ok, expected.creds}

      for {{type, id}, value} <- expected.keys do
        assert JSONBaseline.load_keys(dir, type, id) == {:ok, value},
               "mismatch for #{inspect({type, id})}"
      end

      data_files = dir |> File.ls!() |> Enum.reject(&(&1 == "creds.json"))
      assert length(data_files) == map_size(expected.keys)
      assert JSONBaseline.list_persisted_keys(dir) == {:ok, expected.index}
    end

    test "list_persisted_keys equals the recorded index", %{tmp: tmp} do
      dir = Fixtures.copy_to_tmp(:json, tmp)
      assert JSONBaseline.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().json}
    end

    test "replaying ops writes JSON-equal files", %{tmp: tmp} do
      dir = Path.join(tmp, "replay")
      :ok = replay(JSONBaseline, dir)
      fixture_dir = Fixtures.dir(:json)

      assert sorted_ls(dir) == sorted_ls(fixture_dir)

      for name <- sorted_ls(fixture_dir) do
        assert json_file!(Path.join(dir, name)) == json_file!(Path.join(fixture_dir, name)),
               "JSON differs for #{name}"
      end

      assert JSONBaseline.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().json}
    end
  end

  describe "JSON text codec" do
    test "decodes escapes, numbers and literals" do
      text =
        ~s({ "a" : "\\u00e9\\ud83d\\ude00\\n\\"\\\\\\/" , "b":[1,-2.5,3e2,0.1E-1,-0], ) <>
          ~s("c":null,"d":true,"e":false,"f":{},"g":[]}\n)

      assert JSONCodec.decode(text) ==
               {:ok,
                %{
                  "a" => "é😀\n\"\\/",
                  "b" => [1, -2.5, 300.0, 0.01, 0],
                  "c" => nil,
                  "d" => true,
                  "e" => false,
                  "f" => %{},
                  "g" => []
                }}
    end

    test "rejects malformed text" do
      for text <- ["", "{", "[1,]", ~s({"a" 1}), "tru", "01", ~s("a\tb"), "1 2", <<?", 255, ?">>] do
        assert {:error, _} = JSONCodec.decode(text), "accepted #{inspect(text)}"
      end
    end

    test "encodes what it decodes back" do
      term = %{
        "text" => "quote \" backslash \\ tab \t nl \n ctl \u0001 é 😀",
        "nums" => [0, -7, 1.5, 1.0e20, -0.001],
        "flags" => [true, false, nil],
        "nested" => %{"k" => [%{}, []]},
        :atom_key => :atom_value
      }

      expected =
        term
        |> Map.delete(:atom_key)
        |> Map.put("atom_key", "atom_value")

      assert term |> JSONCodec.encode!() |> JSONCodec.decode() == {:ok, expected}
    end

    test "refuses terms JSON cannot hold" do
      # Not an ArgumentError: the backends must let it through, as the originals do.
      error =
        try do
          JSONCodec.encode!(%{"t" => {1, 2}})
        rescue
          e -> e
        end

      assert is_exception(error)
      refute is_struct(error, ArgumentError)
    end
  end

  describe "contract cases" do
    test "both arities of the persistence API are exported" do
      common = [
        load_credentials: 0,
        load_credentials: 1,
        save_credentials: 1,
        save_credentials: 2,
        load_keys: 2,
        load_keys: 3,
        save_keys: 3,
        save_keys: 4,
        delete_keys: 2,
        delete_keys: 3,
        list_persisted_keys: 1
      ]

      for {module, auth} <- [
            {ETFBaseline, :use_native_file_auth_state},
            {JSONBaseline, :use_multi_file_auth_state}
          ] do
        Code.ensure_loaded!(module)

        for {fun, arity} <- common ++ [{auth, 0}, {auth, 1}] do
          assert function_exported?(module, fun, arity), "#{inspect(module)}.#{fun}/#{arity}"
        end
      end
    end

    test "missing creds give a fresh state and write nothing", %{tmp: tmp} do
      for module <- [ETFBaseline, JSONBaseline] do
        dir = Path.join(tmp, inspect(module))
        assert {:ok, %State{registered: false} = state} = module.load_credentials(dir)
        assert is_binary(state.noise_key.public)
        assert File.ls!(dir) == []
        assert module.load_keys(dir, :session, "nobody.0") == {:error, :not_found}
        assert module.delete_keys(dir, :session, "nobody.0") == :ok
        assert File.ls!(dir) == []
        assert module.list_persisted_keys(dir) == {:ok, %{}}
      end
    end

    test "manifest errors name the baseline module", %{tmp: tmp} do
      etf = Path.join(tmp, "etf")
      File.mkdir_p!(etf)
      manifest = %{"backend" => "native_file_persistence", "version" => 2, "key_index" => %{}}
      File.write!(Path.join(etf, @etf_manifest), :erlang.term_to_binary(manifest))

      assert ETFBaseline.load_credentials(etf) ==
               {:error, {:unsupported_persistence_version, ETFBaseline, 2}}

      assert ETFBaseline.list_persisted_keys(etf) ==
               {:error, {:unsupported_persistence_version, ETFBaseline, 2}}

      File.write!(Path.join(etf, @etf_manifest), :erlang.term_to_binary(%{"backend" => "x"}))

      assert ETFBaseline.save_keys(etf, :"pre-key", 1, %{}) ==
               {:error, {:unexpected_persistence_backend, ETFBaseline, "x"}}

      File.write!(Path.join(etf, @etf_manifest), "not etf")

      assert {:error, {:invalid_persistence_metadata, ETFBaseline, %ArgumentError{}}} =
               ETFBaseline.load_keys(etf, :"pre-key", 1)

      File.write!(Path.join(etf, @etf_manifest), :erlang.term_to_binary([1]))

      assert ETFBaseline.delete_keys(etf, :"pre-key", 1) ==
               {:error, {:invalid_persistence_metadata, ETFBaseline, [1]}}

      json = Path.join(tmp, "json")
      File.mkdir_p!(json)

      File.write!(
        Path.join(json, @json_manifest),
        ~s({"backend":"native_file_persistence","version":1,"key_index":{}})
      )

      assert JSONBaseline.load_credentials(json) ==
               {:error,
                {:unexpected_persistence_backend, JSONBaseline, "native_file_persistence"}}

      File.write!(Path.join(json, @json_manifest), ~s({"backend":"file_persistence","version":3}))

      assert JSONBaseline.load_keys(json, :session, "a") ==
               {:error, {:unsupported_persistence_version, JSONBaseline, 3}}

      File.write!(Path.join(json, @json_manifest), "{")

      assert {:error, {:invalid_persistence_metadata, JSONBaseline, _}} =
               JSONBaseline.list_persisted_keys(json)
    end

    test "manifest is created by the first save and normalised", %{tmp: tmp} do
      dir = Path.join(tmp, "etf")
      assert ETFBaseline.save_keys(dir, :"pre-key", 7, %{public: "p", private: "q"}) == :ok
      assert ETFBaseline.save_keys(dir, :custom, "x", 1) == :ok
      assert ETFBaseline.load_keys(dir, :custom, "x") == {:ok, 1}

      manifest = dir |> Path.join(@etf_manifest) |> File.read!() |> :erlang.binary_to_term()

      assert manifest == %{
               "backend" => "native_file_persistence",
               "version" => 1,
               "key_index" => %{"pre-key" => ["7"]}
             }

      assert ETFBaseline.delete_keys(dir, :"pre-key", 7) == :ok
      assert ETFBaseline.delete_keys(dir, :session, "none") == :ok
      assert ETFBaseline.load_keys(dir, :"pre-key", 7) == {:error, :not_found}

      manifest = dir |> Path.join(@etf_manifest) |> File.read!() |> :erlang.binary_to_term()
      assert manifest["key_index"] == %{"pre-key" => [], "session" => []}
    end

    test "invalid additional_data is refused before anything is written", %{tmp: tmp} do
      dir = Path.join(tmp, "json")
      state = %State{State.new() | additional_data: %{labels: ["a"]}}

      assert JSONBaseline.save_credentials(dir, state) ==
               {:error,
                {:invalid_additional_data,
                 "additional_data contains a atom (:labels) map key at path [:additional_data]; " <>
                   "only string keys are supported"}}

      state = %State{State.new() | additional_data: %{"a" => [1, {:x}]}}

      assert JSONBaseline.save_credentials(dir, state) ==
               {:error,
                {:invalid_additional_data,
                 ~s(additional_data contains a tuple at path [:additional_data, "a", 1]; ) <>
                   "only strings, numbers, booleans, lists, and string-keyed maps are supported"}}

      state = %State{State.new() | additional_data: [self()]}

      assert {:error, {:invalid_additional_data, "additional_data contains a pid at path" <> _}} =
               JSONBaseline.save_credentials(dir, state)

      refute File.exists?(dir)
    end

    test "json-safe values refuse tuples with an ArgumentError", %{tmp: tmp} do
      dir = Path.join(tmp, "json")

      assert {:error, %ArgumentError{}} =
               JSONBaseline.save_keys(dir, :"lid-mapping", "1", {"a", "b"})

      assert {:error, %ArgumentError{}} =
               JSONBaseline.save_keys(dir, :"device-list", "1", [:atom])

      assert File.ls!(dir) == []
    end

    test "corrupt data files are ArgumentError results", %{tmp: tmp} do
      etf = Path.join(tmp, "etf")
      File.mkdir_p!(etf)
      name = "zz_baseline_test_no_such_atom"
      unknown_atom = <<131, 100, byte_size(name)::16, name::binary>>
      File.write!(Path.join(etf, "session-a.etf"), unknown_atom)
      assert {:error, %ArgumentError{}} = ETFBaseline.load_keys(etf, :session, "a")

      json = Path.join(tmp, "json")
      File.mkdir_p!(json)

      File.write!(
        Path.join(json, "pre-key-1.json"),
        ~s({"private":{"type":"Buffer","data":"%%"}})
      )

      assert {:error, %ArgumentError{}} = JSONBaseline.load_keys(json, :"pre-key", 1)

      File.write!(Path.join(json, "lid-mapping-1.json"), ~s({"__type__":"atom","value":"zz9"}))
      assert {:error, %ArgumentError{}} = JSONBaseline.load_keys(json, :"lid-mapping", 1)
    end

    test "use_*_auth_state returns connect options and a saver", %{tmp: tmp} do
      for {module, fun} <- [
            {ETFBaseline, :use_native_file_auth_state},
            {JSONBaseline, :use_multi_file_auth_state}
          ] do
        dir = Path.join(tmp, inspect(module))
        assert {:ok, auth} = apply(module, fun, [dir])
        assert %State{} = auth.state

        assert auth.connect_opts == [
                 signal_store_module: BaileysEx.Auth.KeyStore,
                 signal_store_opts: [persistence_module: module, persistence_context: dir]
               ]

        creds = Map.from_struct(struct!(auth.state, registration_id: 77, platform: "web"))
        assert auth.save_creds.(%{creds: creds}) == :ok
        assert {:ok, %State{registration_id: 77, platform: "web"}} = module.load_credentials(dir)
        assert auth.save_creds.(auth.state) == :ok
        assert module.load_credentials(dir) == {:ok, auth.state}
      end
    end

    test "writes are synced as in the originals, under module-keyed locks", %{tmp: tmp} do
      etf = Path.join(tmp, "etf")
      json = Path.join(tmp, "json")

      # A process cannot be its own tracer: a collector receives the calls.
      collector = spawn_link(fn -> collect([]) end)
      :erlang.trace_pattern({:file, :sync, 1}, true, [:local])
      :erlang.trace_pattern({:global, :trans, 2}, true, [:local])
      :erlang.trace(self(), true, [:call, {:tracer, collector}])

      try do
        :ok = ETFBaseline.save_keys(etf, :"pre-key", 1, %{public: "a", private: "b"})
        etf_save = traced_calls(collector)
        :ok = ETFBaseline.delete_keys(etf, :"pre-key", 1)
        etf_delete = traced_calls(collector)
        :ok = JSONBaseline.save_keys(json, :"pre-key", 1, %{public: "a", private: "b"})
        json_save = traced_calls(collector)

        # data file + dir, manifest + dir
        assert count(etf_save, :sync) == 4
        # dir after removal, manifest + dir
        assert count(etf_delete, :sync) == 3
        # manifest + dir only: JSON data files are not synced
        assert count(json_save, :sync) == 2

        assert locks(etf_save) == [
                 {ETFBaseline, Path.join(etf, "pre-key-1.etf")},
                 {ETFBaseline, Path.join(etf, @etf_manifest)}
               ]

        assert locks(json_save) == [
                 {JSONBaseline, Path.join(json, "pre-key-1.json")},
                 {JSONBaseline, Path.join(json, @json_manifest)}
               ]
      after
        :erlang.trace(self(), false, [:call])
        :erlang.trace_pattern({:file, :sync, 1}, false, [:local])
        :erlang.trace_pattern({:global, :trans, 2}, false, [:local])
      end
    end

    test "the lock makes the module the resource (original flaw kept)", %{tmp: tmp} do
      dir = Path.join(tmp, "etf")
      parent = self()

      holder =
        spawn(fn ->
          :global.trans({ETFBaseline, :someone_else}, fn ->
            send(parent, :locked)

            receive do
              :release -> :ok
            end
          end)
        end)

      on_exit(fn -> send(holder, :release) end)
      assert_receive :locked, 60_000

      # A different file, a different requester: still blocked, because the
      # module alone is the resource.
      writer = Task.async(fn -> ETFBaseline.save_keys(dir, :"pre-key", 2, %{}) end)
      assert Task.yield(writer, 300) == nil

      send(holder, :release)
      assert Task.await(writer, 120_000) == :ok
    end
  end

  defp traced_calls(collector) do
    ref = :erlang.trace_delivered(self())

    receive do
      {:trace_delivered, _pid, ^ref} -> :ok
    end

    send(collector, {:take, self()})

    receive do
      {:calls, calls} -> calls
    end
  end

  defp collect(acc) do
    receive do
      {:take, from} ->
        send(from, {:calls, Enum.reverse(acc)})
        collect([])

      {:trace, _pid, :call, {:file, :sync, _}} ->
        collect([:sync | acc])

      {:trace, _pid, :call, {:global, :trans, [id, _fun]}} ->
        collect([{:lock, id} | acc])

      _other ->
        collect(acc)
    end
  end

  defp count(calls, what), do: Enum.count(calls, &(&1 == what))
  defp locks(calls), do: for({:lock, id} <- calls, do: id)
end
