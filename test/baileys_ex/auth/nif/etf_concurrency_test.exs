defmodule BaileysEx.Auth.NIF.EtfConcurrencyTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.KeyStoreDispatch

  @manifest Backends.fetch!(:etf).manifest_file

  @tag :tmp_dir
  test "concurrent saves of distinct keys all reach the manifest", %{tmp_dir: tmp_dir} do
    writers = 16
    keys_per_writer = 8

    results =
      1..writers
      |> Enum.map(fn writer ->
        Task.async(fn ->
          for n <- 1..keys_per_writer do
            id = "#{writer}.#{n}"
            {id, Persistence.save_keys(tmp_dir, :session, id, %{writer: writer, n: n})}
          end
        end)
      end)
      |> Task.await_many(:infinity)
      |> List.flatten()

    assert length(results) == writers * keys_per_writer
    assert Enum.all?(results, fn {_id, result} -> result == :ok end), inspect(results)

    ids = results |> Enum.map(&elem(&1, 0)) |> Enum.sort()

    manifest = tmp_dir |> Path.join(@manifest) |> File.read!() |> :erlang.binary_to_term([:safe])

    assert manifest == %{
             "backend" => "native_file_persistence",
             "version" => 1,
             "key_index" => %{"session" => ids}
           }

    for writer <- 1..writers, n <- 1..keys_per_writer do
      assert {:ok, %{writer: ^writer, n: ^n}} =
               Persistence.load_keys(tmp_dir, :session, "#{writer}.#{n}")
    end
  end

  @tag :tmp_dir
  test "concurrent saves of distinct types and a credential save keep every index entry", %{
    tmp_dir: tmp_dir
  } do
    types = [:session, :"pre-key", :"sender-key", :"device-list", :tctoken, :"lid-mapping"]

    tasks =
      for type <- types, n <- 1..6 do
        Task.async(fn -> Persistence.save_keys(tmp_dir, type, "id#{n}", n) end)
      end

    creds_task =
      Task.async(fn ->
        Persistence.save_credentials(tmp_dir, %BaileysEx.Auth.State{platform: "concurrent"})
      end)

    assert Enum.all?(Task.await_many([creds_task | tasks], :infinity), &(&1 == :ok))

    manifest = tmp_dir |> Path.join(@manifest) |> File.read!() |> :erlang.binary_to_term([:safe])

    expected_ids = for n <- 1..6, do: "id#{n}"
    assert manifest["key_index"] == Map.new(types, &{Atom.to_string(&1), expected_ids})
  end

  @tag :tmp_dir
  test "readers racing writers of one key only ever see a complete written value", %{
    tmp_dir: tmp_dir
  } do
    writers = 8
    rounds = 25
    readers = 4
    type = :"sender-key"
    id = "120363025246125486@g.us::15559876543::0"

    assert :ok = Persistence.save_keys(tmp_dir, type, id, value(0, 0))
    done = :atomics.new(1, [])

    reader_tasks =
      for _ <- 1..readers do
        Task.async(fn -> read_until_done(tmp_dir, type, id, done, []) end)
      end

    writer_results =
      1..writers
      |> Enum.map(fn writer ->
        Task.async(fn ->
          for round <- 1..rounds,
              do: Persistence.save_keys(tmp_dir, type, id, value(writer, round))
        end)
      end)
      |> Task.await_many(:infinity)
      |> List.flatten()

    :atomics.put(done, 1, 1)
    reads = reader_tasks |> Task.await_many(:infinity) |> List.flatten()

    assert Enum.all?(writer_results, &(&1 == :ok))
    assert reads != []

    for read <- reads do
      assert {:ok, {writer, round, payload}} = read
      assert payload == payload(writer, round), "torn or foreign value from writer #{writer}"
    end

    assert {:ok, {writer, round, _}} = Persistence.load_keys(tmp_dir, type, id)
    assert writer in 1..writers and round == rounds

    assert File.ls!(tmp_dir) |> Enum.sort() ==
             Enum.sort([@manifest, "sender-key-120363025246125486@g.us--15559876543--0.etf"])
  end

  @tag :tmp_dir
  test "the KeyStore dispatch picks the context-aware arity when a context is given", %{
    tmp_dir: tmp_dir
  } do
    value = %{key_data: <<1, 2, 3>>}

    assert :ok =
             KeyStoreDispatch.call(Persistence, tmp_dir, :save_keys, [
               :"app-state-sync-key",
               "AAAA/+8x",
               value
             ])

    assert File.exists?(Path.join(tmp_dir, "app-state-sync-key-AAAA__+8x.etf"))

    assert {:ok, ^value} =
             KeyStoreDispatch.call(Persistence, tmp_dir, :load_keys, [
               :"app-state-sync-key",
               "AAAA/+8x"
             ])

    assert :ok =
             KeyStoreDispatch.call(Persistence, tmp_dir, :delete_keys, [
               :"app-state-sync-key",
               "AAAA/+8x"
             ])

    assert {:error, :not_found} =
             KeyStoreDispatch.call(Persistence, tmp_dir, :load_keys, [
               :"app-state-sync-key",
               "AAAA/+8x"
             ])

    assert {:error, {:unsupported_persistence_operation, Persistence, :compact_keys}} =
             KeyStoreDispatch.call(Persistence, tmp_dir, :compact_keys, [])
  end

  test "both arities of every callback are exported" do
    assert Code.ensure_loaded?(Persistence)

    for {fun, arity} <- [
          load_credentials: 0,
          save_credentials: 1,
          load_keys: 2,
          save_keys: 3,
          delete_keys: 2
        ] do
      assert function_exported?(Persistence, fun, arity), "#{fun}/#{arity}"
      assert function_exported?(Persistence, fun, arity + 1), "#{fun}/#{arity + 1}"
    end
  end

  defp read_until_done(dir, type, id, done, acc) do
    acc = [Persistence.load_keys(dir, type, id) | acc]

    if :atomics.get(done, 1) == 1 do
      acc
    else
      read_until_done(dir, type, id, done, acc)
    end
  end

  defp value(writer, round), do: {writer, round, payload(writer, round)}

  # Large enough to span many pages, and different for every (writer, round).
  defp payload(writer, round) do
    :binary.copy(:crypto.hash(:sha256, <<writer::32, round::32>>), 2048)
  end
end

defmodule BaileysEx.Auth.NIF.EtfDispatchDefaultPathTest do
  # Changes application env: must not run concurrently with other tests.
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.KeyStoreDispatch

  @app :baileys_ex_nif_persistence

  setup do
    previous = Application.fetch_env(@app, Persistence)

    on_exit(fn ->
      case previous do
        {:ok, value} -> Application.put_env(@app, Persistence, value)
        :error -> Application.delete_env(@app, Persistence)
      end
    end)

    :ok
  end

  @tag :tmp_dir
  test "with a nil context the dispatch uses the context-free arity and the configured path", %{
    tmp_dir: tmp_dir
  } do
    configured = Path.join(tmp_dir, "configured")
    Application.put_env(@app, Persistence, path: configured)

    assert :ok = KeyStoreDispatch.call(Persistence, nil, :save_keys, [:"pre-key", 7, %{n: 7}])
    assert File.exists?(Path.join(configured, "pre-key-7.etf"))
    assert {:ok, %{n: 7}} = Persistence.load_keys(configured, :"pre-key", "7")
    assert {:ok, %{n: 7}} = KeyStoreDispatch.call(Persistence, nil, :load_keys, [:"pre-key", 7])
    assert :ok = KeyStoreDispatch.call(Persistence, nil, :delete_keys, [:"pre-key", 7])

    assert {:error, :not_found} =
             KeyStoreDispatch.call(Persistence, nil, :load_keys, [:"pre-key", 7])

    other = Path.join(tmp_dir, "other")
    assert :ok = KeyStoreDispatch.call(Persistence, other, :save_keys, [:"pre-key", 8, %{n: 8}])
    assert File.exists?(Path.join(other, "pre-key-8.etf"))
    refute File.exists?(Path.join(configured, "pre-key-8.etf"))
  end
end
