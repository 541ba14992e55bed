defmodule BaileysEx.Auth.NIF.KeyStoreTest do
  @moduledoc """
  What `BaileysEx.Auth.NIF.KeyStore` promises beyond `BaileysEx.Auth.KeyStore`:
  one atomic commit per write with no snapshot read, failures that change
  nothing, commits of different keys that do not wait for each other, a
  cache no reader sees half-updated, `clear/1` of the whole directory,
  dispatch to users' own persistence modules, and its life under a
  supervisor. Behaviour it shares with the original is in
  `key_store/behaviour_test.exs` and `key_store/contract_test.exs`.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.KeyStore
  alias BaileysEx.Auth.NIF.KeyStore.Locks
  alias BaileysEx.Auth.NIF.KeyStore.OperationError
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.FaultyPersistence
  alias BaileysEx.Auth.NIF.Test.KeyStoreContract, as: Contract
  alias BaileysEx.Auth.NIF.Test.KeyStoreProbes, as: Probes
  alias BaileysEx.Auth.NIF.Test.Parity
  alias BaileysEx.Signal.Store

  defmodule GatedPersistence do
    @moduledoc """
    Commits through a base module, but a commit that writes the id "gated"
    first tells the test process and waits for `:open`; a commit that writes
    the id "kill" kills its caller right after the base commit returns; a
    commit that writes the id "raise" raises before writing.
    """

    @doc "Loads through the base."
    @spec load_many(map(), atom(), list()) :: {:ok, map()} | {:error, term()}
    def load_many(%{base: base, dir: dir}, type, ids), do: base.load_many(dir, type, ids)

    @doc "Commits through the base, after the gate for an id \"gated\"."
    @spec commit(map(), map()) :: :ok | {:error, term()}
    def commit(%{base: base, dir: dir, test: test}, changes) do
      ids = for {_type, entries} <- changes, id <- Map.keys(entries), do: id

      if "gated" in ids do
        send(test, {:gated, self()})
        receive do: (:open -> :ok)
      end

      if "raise" in ids, do: raise(ArgumentError, "refused by the test")
      result = base.commit(dir, changes)
      if "kill" in ids, do: Process.exit(self(), :kill)
      result
    end

    @doc "Lists through the base."
    @spec list_persisted_keys(map()) :: {:ok, map()} | {:error, term()}
    def list_persisted_keys(%{base: base, dir: dir}), do: base.list_persisted_keys(dir)
  end

  defmodule ContextFreePersistence do
    @moduledoc """
    A user's persistence module with only the context-free callbacks, over a
    public ETS table named by the test.
    """

    @table :key_store_test_context_free

    @doc "The table, created by the calling process."
    @spec table() :: atom()
    def table, do: :ets.new(@table, [:named_table, :public])

    @doc "Loads one key."
    @spec load_keys(atom(), term()) :: {:ok, term()} | {:error, :not_found}
    def load_keys(type, id) do
      case :ets.lookup(@table, {type, id}) do
        [{_, value}] -> {:ok, value}
        [] -> {:error, :not_found}
      end
    end

    @doc "Saves one key."
    @spec save_keys(atom(), term(), term()) :: :ok
    def save_keys(type, id, value) do
      true = :ets.insert(@table, {{type, id}, value})
      :ok
    end
  end

  setup_all do
    %{backend: Backends.fetch!(:etf)}
  end

  # Reads the three ids until told to stop; every answer is all of one
  # commit or nothing. Returns how many reads it made.
  defp read_until_done(store, ids, reads) do
    receive do
      :done -> reads
    after
      0 ->
        seen = Store.get(store, :"lid-mapping", ids)

        assert seen == %{} or
                 (map_size(seen) == 3 and seen |> Map.values() |> Enum.uniq() |> length() == 1)

        read_until_done(store, ids, reads + 1)
    end
  end

  defp atomic_store(dir, log? \\ true) do
    config = Enum.find(Contract.configs(Backends.fetch!(:etf)), &(&1.name == :atomic))
    context = Contract.context(config, dir, log?)
    {Contract.start(config, context), context}
  end

  defp gated_store(dir) do
    base = Backends.fetch!(:etf).module
    context = %{base: base, dir: dir, test: self()}

    {:ok, store} =
      Store.start_link(
        module: KeyStore,
        persistence_module: GatedPersistence,
        persistence_context: context
      )

    store
  end

  describe "one commit per write" do
    @describetag :tmp_dir

    test "a set is one commit of the backend, with no snapshot read", %{tmp_dir: dir} do
      {store, context} = atomic_store(dir)

      assert Store.set(store, %{"lid-mapping": %{"a" => "1"}, "device-list": %{"a" => ["0"]}}) ==
               :ok

      assert Store.set(store, %{"lid-mapping": %{"a" => "2", "b" => nil}, session: %{"s" => nil}}) ==
               :ok

      assert FaultyPersistence.calls(context) == [
               {:commit, %{"lid-mapping": %{"a" => "1"}, "device-list": %{"a" => ["0"]}}},
               {:commit, %{"lid-mapping": %{"a" => "2", "b" => nil}, session: %{"s" => nil}}}
             ]
    end

    test "a transaction commits once, only a pre-key deletion reads first", %{tmp_dir: dir} do
      {store, context} = atomic_store(dir)
      pair = Contract.value(:"pre-key", 1)
      assert Store.set(store, %{"pre-key": %{"1" => pair}}) == :ok
      FaultyPersistence.reset(context)

      assert Store.transaction(store, "k", fn tx ->
               :ok = Store.set(tx, %{"lid-mapping": %{"a" => "1"}})
               :ok = Store.set(tx, %{"device-list": %{"a" => ["0"]}})
               :ok = Store.set(tx, %{"pre-key": %{"1" => nil}})
             end) == :ok

      assert FaultyPersistence.calls(context) == [
               {:commit,
                %{
                  "lid-mapping": %{"a" => "1"},
                  "device-list": %{"a" => ["0"]},
                  "pre-key": %{"1" => nil}
                }}
             ]

      FaultyPersistence.reset(context)
      assert Store.set(store, %{"pre-key": %{"9" => nil, "1" => nil}}) == :ok
      assert FaultyPersistence.calls(context) == [{:load_many, :"pre-key", ["9"]}]
    end

    test "a transaction with nothing written commits nothing", %{tmp_dir: dir} do
      {store, context} = atomic_store(dir)
      assert Store.transaction(store, "k", fn tx -> Store.get(tx, :session, ["a"]) end) == %{}
      assert Store.set(store, %{session: %{}, tctoken: :not_a_map}) == :ok
      assert FaultyPersistence.calls(context) == [{:load_many, :session, ["a"]}]
    end
  end

  describe "failures" do
    @describetag :tmp_dir

    test "a failed commit changes nothing on disk or in the cache and raises in the caller",
         %{tmp_dir: dir, backend: backend} do
      {store, context} = atomic_store(dir)
      assert Store.set(store, %{"lid-mapping": %{"a" => "1", "b" => "2"}}) == :ok
      before = Contract.files(backend, dir)
      FaultyPersistence.reset(context)

      error =
        assert_raise OperationError, fn ->
          Store.set(store, %{"lid-mapping": %{"a" => "9", "b" => nil, "x" => {:fail_write, :eio}}})
        end

      assert {error.action, error.reason} == {:set, :eio}
      assert Exception.message(error) == "key store set failed: :eio"
      assert Contract.files(backend, dir) == before

      assert Store.get(store, :"lid-mapping", ["a", "b", "x"]) == %{"a" => "1", "b" => "2"}
      assert FaultyPersistence.calls(context) == [{:load_many, :"lid-mapping", ["x"]}]
    end

    test "a commit the backend refuses writes nothing", %{tmp_dir: dir, backend: backend} do
      {store, _context} = atomic_store(dir)

      error =
        assert_raise OperationError, fn ->
          Store.set(store, %{:"lid-mapping" => %{"a" => "1"}, "not an atom" => %{"x" => "1"}})
        end

      assert error.action == :set
      assert error.reason != nil
      assert Contract.files(backend, dir) == %{}
      assert Store.get(store, :"lid-mapping", ["a"]) == %{}
    end

    test "an exception in the persistence module reaches the caller; the keys stay coherent and free",
         %{tmp_dir: dir} do
      store = gated_store(dir)
      assert Store.set(store, %{"lid-mapping": %{"a" => "1"}}) == :ok

      assert_raise ArgumentError, "refused by the test", fn ->
        Store.set(store, %{"lid-mapping": %{"a" => "2", "raise" => "1"}})
      end

      assert Store.get(store, :"lid-mapping", ["a", "raise"]) == %{"a" => "1"}
      assert Store.set(store, %{"lid-mapping": %{"a" => "3"}}) == :ok
      assert Store.get(store, :"lid-mapping", ["a"]) == %{"a" => "3"}
    end
  end

  describe "no central mailbox" do
    @describetag :tmp_dir

    test "a commit of other keys, and reads of other keys, do not wait for a commit under way",
         %{tmp_dir: dir} do
      store = gated_store(dir)
      # Different stripes, so only the gate decides who waits.
      assert Locks.key_names([{:"lid-mapping", "gated"}]) !=
               Locks.key_names([{:"lid-mapping", "other"}])

      first =
        Task.async(fn ->
          Store.set(store, %{"lid-mapping": %{"gated" => "old", "other" => "old"}})
        end)

      assert_receive {:gated, committer}
      send(committer, :open)
      assert Task.await(first, 120_000) == :ok

      slow = Task.async(fn -> Store.set(store, %{"lid-mapping": %{"gated" => "new"}}) end)
      assert_receive {:gated, committer}
      assert committer == slow.pid

      assert Store.set(store, %{"lid-mapping": %{"other" => "new"}}) == :ok
      assert Store.get(store, :"lid-mapping", ["other"]) == %{"other" => "new"}

      reader = Task.async(fn -> Store.get(store, :"lid-mapping", ["gated"]) end)
      Probes.await_blocked(reader.pid)

      send(committer, :open)
      assert Task.await(slow, 120_000) == :ok
      assert Task.await(reader, 120_000) == %{"gated" => "new"}
    end
  end

  describe "a coherent cache" do
    @describetag :tmp_dir

    test "no read sees part of a commit, and a finished set is seen by every reader",
         %{tmp_dir: dir} do
      {store, _context} = atomic_store(dir, false)
      ids = ["a", "b", "c"]

      readers =
        for _ <- 1..2 do
          Task.async(fn -> read_until_done(store, ids, 0) end)
        end

      for n <- 1..100 do
        if rem(n, 40) == 0 do
          assert Store.clear(store) == :ok
        else
          value = Integer.to_string(n)
          assert Store.set(store, %{"lid-mapping": Map.new(ids, &{&1, value})}) == :ok
          # Another process, after the set returned: all of it.
          seen =
            Task.async(fn -> Store.get(store, :"lid-mapping", ids) end) |> Task.await(120_000)

          assert seen == Map.new(ids, &{&1, value})
        end
      end

      for reader <- readers, do: send(reader.pid, :done)
      assert readers |> Enum.map(&Task.await(&1, 60_000)) |> Enum.all?(&(&1 > 0))
    end

    test "a writer killed between its commit and the cache update leaves no stale value",
         %{tmp_dir: dir} do
      store = gated_store(dir)
      assert Store.set(store, %{"lid-mapping": %{"a" => "old"}}) == :ok
      assert Store.get(store, :"lid-mapping", ["a"]) == %{"a" => "old"}

      two_ids = %{"a" => "new", "kill" => "x"}
      {writer, monitor} = spawn_monitor(fn -> Store.set(store, %{"lid-mapping": two_ids}) end)

      assert_receive {:DOWN, ^monitor, :process, ^writer, :killed}
      assert Store.get(store, :"lid-mapping", ["a", "kill"]) == %{"a" => "new", "kill" => "x"}
      assert Store.set(store, %{"lid-mapping": %{"a" => "after"}}) == :ok
      assert Store.get(store, :"lid-mapping", ["a"]) == %{"a" => "after"}
    end
  end

  describe "clear" do
    @describetag :tmp_dir

    test "removes every key of the directory, also keys this store never saw (the original keeps them)",
         %{tmp_dir: tmp, backend: backend} do
      for name <- ["ours", "twin"] do
        dir = Path.join(tmp, name)
        assert backend.module.save_credentials(dir, Parity.creds(:etf, 1)) == :ok

        for {type, [id | _]} <- Contract.ids(),
            do: assert(backend.module.save_keys(dir, type, id, Contract.value(type, 1)) == :ok)

        assert backend.module.save_keys(dir, :"custom-type", "x", 1) == :ok
      end

      ours =
        Contract.start(
          Enum.find(Contract.configs(backend), &(&1.name == :atomic)),
          Path.join(tmp, "ours")
        )

      twin = Contract.start(hd(Contract.configs(backend)), Path.join(tmp, "twin"))

      for store <- [ours, twin] do
        assert Store.get(store, :"custom-type", ["x"]) == %{"x" => 1}
        assert Store.clear(store) == :ok
      end

      assert File.ls!(Path.join(tmp, "ours")) |> Enum.sort() ==
               Enum.sort([backend.creds_file, backend.manifest_file])

      assert {:ok, %{}} = backend.module.list_persisted_keys(Path.join(tmp, "ours"))
      assert {:ok, listed} = backend.module.list_persisted_keys(Path.join(tmp, "twin"))
      assert Map.keys(listed) |> Enum.sort() == Map.keys(Contract.ids()) |> Enum.sort()
      assert Store.get(twin, :"custom-type", ["x"]) == %{}

      for {type, [id | _]} <- Contract.ids() do
        assert Store.get(ours, type, [id]) == %{}
        assert Store.get(twin, type, [id]) == %{id => Contract.value(type, 1)}
      end
    end

    test "a failed clear changes nothing on disk or in the cache", %{
      tmp_dir: dir,
      backend: backend
    } do
      {store, context} = atomic_store(dir)
      assert Store.set(store, %{"lid-mapping": %{"a" => "1"}}) == :ok
      before = Contract.files(backend, dir)
      FaultyPersistence.reset(context)

      error =
        assert_raise OperationError, fn ->
          Store.transaction(store, "k", fn tx ->
            :ok = Store.clear(tx)
            Store.set(tx, %{"lid-mapping": %{"b" => "2", "c" => {:fail_write, :eio}}})
          end)
        end

      assert {error.action, error.reason} == {:transaction, :eio}
      assert Contract.files(backend, dir) == before
      assert Store.get(store, :"lid-mapping", ["a", "b"]) == %{"a" => "1"}
      assert FaultyPersistence.calls(context) == [{:load_many, :"lid-mapping", ["b"]}]
    end
  end

  describe "life and options" do
    @describetag :tmp_dir

    test "runs under a supervisor with a global name, as BaileysEx starts it", %{tmp_dir: dir} do
      name = {:global, {__MODULE__, make_ref(), KeyStore}}
      persistence = Backends.fetch!(:etf).module

      {:ok, supervisor} =
        Supervisor.start_link(
          [{KeyStore, [name: name, persistence_module: persistence, persistence_context: dir]}],
          strategy: :one_for_one
        )

      assert %Store{module: KeyStore} = store = Store.wrap_running({KeyStore, name})
      assert Store.set(store, %{"lid-mapping": %{"a" => "1"}}) == :ok
      assert Store.get(store, :"lid-mapping", ["a"]) == %{"a" => "1"}
      assert store.ref.persistence.mode == :atomic

      [{KeyStore, pid, :worker, [KeyStore]}] = Supervisor.which_children(supervisor)
      locks = Tuple.to_list(store.ref.locks)
      monitors = for lock <- locks, do: Process.monitor(lock)
      Process.exit(pid, :kill)
      for monitor <- monitors, do: assert_receive({:DOWN, ^monitor, :process, _, _})

      restarted = wait_restarted(name, pid)
      assert Store.get(restarted, :"lid-mapping", ["a"]) == %{"a" => "1"}
      Supervisor.stop(supervisor)
    end

    test "the lock processes stop with a store stopped normally", %{tmp_dir: dir} do
      {store, _context} = atomic_store(dir)
      monitors = for lock <- Tuple.to_list(store.ref.locks), do: Process.monitor(lock)
      Contract.stop(store)
      for monitor <- monitors, do: assert_receive({:DOWN, ^monitor, :process, _, :normal})
    end

    test "options: the default persistence module, a bad one, ignored retry settings" do
      assert {:ok, pid} = KeyStore.start_link(max_commit_retries: 3, delay_between_tries_ms: 1)
      ref = KeyStore.wrap(pid)
      assert ref.persistence.module == BaileysEx.Auth.NIF.NativeFilePersistence
      assert ref.persistence.context == nil
      assert ref.persistence.mode == :key_by_key
      GenServer.stop(pid)

      for bad <- [nil, "BaileysEx.Auth.NIF.NativeFilePersistence", 42] do
        assert KeyStore.start_link(persistence_module: bad) ==
                 {:error, {:invalid_persistence_module, bad}}
      end
    end

    test "a user's module with only context-free callbacks is called key by key" do
      ContextFreePersistence.table()

      {:ok, store} =
        Store.start_link(
          module: KeyStore,
          persistence_module: ContextFreePersistence,
          persistence_context: :ignored_without_context_callbacks
        )

      assert store.ref.persistence.mode == :key_by_key
      assert Store.set(store, %{session: %{"a" => <<1>>, "b" => <<2>>}}) == :ok

      assert :ets.lookup(:key_store_test_context_free, {:session, "a"}) == [
               {{:session, "a"}, <<1>>}
             ]

      assert Store.get(store, :session, ["a", "b", "c"]) == %{"a" => <<1>>, "b" => <<2>>}

      error = assert_raise OperationError, fn -> Store.set(store, %{session: %{"a" => nil}}) end

      assert {error.action, error.reason} ==
               {:set, {:unsupported_persistence_operation, ContextFreePersistence, :delete_keys}}

      assert Store.get(store, :session, ["a"]) == %{"a" => <<1>>}

      # Without list_persisted_keys a clear deletes the ids the store has seen.
      error = assert_raise OperationError, fn -> Store.clear(store) end

      assert {error.action, error.reason} ==
               {:clear,
                {:unsupported_persistence_operation, ContextFreePersistence, :delete_keys}}
    end
  end

  defp wait_restarted(name, old_pid) do
    case Store.wrap_running({KeyStore, name}) do
      %Store{ref: %{pid: pid}} = store when pid != old_pid ->
        store

      _ ->
        Process.sleep(5)
        wait_restarted(name, old_pid)
    end
  end
end
