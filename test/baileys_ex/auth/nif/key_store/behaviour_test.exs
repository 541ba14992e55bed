defmodule BaileysEx.Auth.NIF.KeyStore.BehaviourTest do
  @moduledoc """
  What `BaileysEx.Auth.NIF.KeyStore` answers exactly as
  `BaileysEx.Auth.KeyStore` does, each written once and run against the
  twin of the original and ours (atomic and key by key) over both
  backends, through `BaileysEx.Signal.Store` as BaileysEx calls a store.
  No sleep decides an outcome: a process waiting for a lock is observed
  blocked in its call.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.FaultyPersistence
  alias BaileysEx.Auth.NIF.Test.KeyStoreContract, as: Contract
  alias BaileysEx.Auth.NIF.Test.KeyStoreProbes, as: Probes
  alias BaileysEx.Auth.NIF.Test.Parity
  alias BaileysEx.Signal.Store

  for backend <- Backends.all(), config <- Contract.configs(backend) do
    describe "#{config.name} over #{backend.title}" do
      @describetag :tmp_dir
      @describetag config: config, backend: backend

      setup %{config: config, tmp_dir: dir} do
        context = Contract.context(config, dir, true)
        %{store: Contract.start(config, context), context: context, dir: dir}
      end

      test "get returns the entries found, and absent keys are cached too", ctx do
        %{store: store, context: context} = ctx
        assert Store.set(store, %{"lid-mapping": %{"a" => "1"}}) == :ok
        FaultyPersistence.reset(context)

        assert Store.get(store, :"lid-mapping", ["a", "b", "never"]) == %{"a" => "1"}
        assert loaded(context) == ["b", "never"]

        FaultyPersistence.reset(context)
        assert Store.get(store, :"lid-mapping", ["never", "a", "b"]) == %{"a" => "1"}
        assert Store.get(store, :"lid-mapping", []) == %{}
        assert FaultyPersistence.calls(context) == []
      end

      test "a transaction's writes are its own until it commits", ctx do
        %{store: store, backend: backend, dir: dir} = ctx
        parent = self()

        task =
          Task.async(fn ->
            Store.transaction(store, "session:alice", fn tx ->
              assert Store.set(tx, %{
                       "lid-mapping": %{"alice" => "7"},
                       "device-list": %{"alice" => nil}
                     }) ==
                       :ok

              assert Store.get(tx, :"lid-mapping", ["alice"]) == %{"alice" => "7"}
              send(parent, :written)
              assert_receive :commit
              :committed
            end)
          end)

        assert_receive :written
        assert Store.get(store, :"lid-mapping", ["alice"]) == %{}
        assert key_files(backend, dir) == []

        send(task.pid, :commit)
        assert Task.await(task, 120_000) == :committed
        assert Store.get(store, :"lid-mapping", ["alice"]) == %{"alice" => "7"}
        assert key_files(backend, dir) == ["lid-mapping-alice"]
      end

      test "a transaction whose function raises commits nothing and the exception goes on",
           ctx do
        %{store: store, backend: backend, dir: dir} = ctx
        assert Store.set(store, %{"lid-mapping": %{"a" => "1"}}) == :ok
        before = Contract.files(backend, dir)

        assert_raise RuntimeError, "boom", fn ->
          Store.transaction(store, "session:alice", fn tx ->
            :ok = Store.set(tx, %{"lid-mapping": %{"a" => "2", "b" => "3"}})
            :ok = Store.clear(tx)
            raise "boom"
          end)
        end

        assert catch_throw(
                 Store.transaction(store, "k", fn tx ->
                   throw(Store.set(tx, %{"lid-mapping": %{"a" => nil}}))
                 end)
               ) ==
                 :ok

        assert Store.get(store, :"lid-mapping", ["a", "b"]) == %{"a" => "1"}
        assert Contract.files(backend, dir) == before
      end

      test "a nested transaction reuses the handle and commits with the outer one", ctx do
        %{store: store} = ctx

        assert Store.transaction(store, "session:alice", fn tx ->
                 :ok = Store.set(tx, %{"lid-mapping": %{"alice" => "1"}})

                 Store.transaction(tx, "session:bob", fn nested ->
                   assert nested == tx
                   assert Store.in_transaction?(nested)
                   refute Store.in_transaction?(store)
                   assert Store.get(nested, :"lid-mapping", ["alice"]) == %{"alice" => "1"}
                   :ok = Store.set(nested, %{"lid-mapping": %{"bob" => "2"}})
                   :nested
                 end)
               end) == :nested

        assert Store.get(store, :"lid-mapping", ["alice", "bob"]) == %{
                 "alice" => "1",
                 "bob" => "2"
               }
      end

      test "transactions on one key string run one at a time, waiters in arrival order", ctx do
        %{store: store} = ctx
        holder = hold(store, "session:alice")

        waiters =
          for n <- 1..3 do
            task = Task.async(fn -> append(store, "session:alice", "order", n) end)
            Probes.await_blocked(task.pid)
            task
          end

        send(holder.pid, :release)
        Task.await(holder, 120_000)
        Enum.each(waiters, &Task.await(&1, 120_000))
        assert Store.get(store, :"device-list", ["order"]) == %{"order" => ["1", "2", "3"]}
      end

      test "transactions on different key strings do not wait for each other", ctx do
        %{store: store} = ctx
        holder = hold(store, "session:alice")
        assert append(store, "session:bob", "bob", 1) == :ok
        assert Store.get(store, :"device-list", ["bob"]) == %{"bob" => ["1"]}
        send(holder.pid, :release)
        Task.await(holder, 120_000)
      end

      test "a transaction's lock is freed when its owner dies", ctx do
        %{store: store} = ctx
        parent = self()

        owner =
          spawn(fn ->
            Store.transaction(store, "session:alice", fn tx ->
              :ok = Store.set(tx, %{"lid-mapping": %{"alice" => "lost"}})
              send(parent, :holding)
              Process.sleep(:infinity)
            end)
          end)

        assert_receive :holding
        waiter = Task.async(fn -> append(store, "session:alice", "alice", 1) end)
        Probes.await_blocked(waiter.pid)

        monitor = Process.monitor(owner)
        Process.exit(owner, :kill)
        assert_receive {:DOWN, ^monitor, :process, ^owner, :killed}
        assert Task.await(waiter, 120_000) == :ok
        assert Store.get(store, :"device-list", ["alice"]) == %{"alice" => ["1"]}
        assert Store.get(store, :"lid-mapping", ["alice"]) == %{}
      end

      test "a nil for a pre-key that does not exist is not written", ctx do
        %{store: store, context: context} = ctx
        pair = Contract.value(:"pre-key", 1)
        assert Store.set(store, %{"pre-key": %{"1" => pair, "2" => pair}}) == :ok

        FaultyPersistence.reset(context)

        assert Store.set(store, %{
                 "pre-key": %{"missing" => nil, "1" => nil},
                 session: %{"s" => nil}
               }) == :ok

        assert Probes.writes(FaultyPersistence.calls(context)) |> Enum.sort() ==
                 [{:delete, :"pre-key", "1"}, {:delete, :session, "s"}]

        FaultyPersistence.reset(context)
        assert Store.set(store, %{"pre-key": %{"missing" => nil}}) == :ok
        assert Probes.writes(FaultyPersistence.calls(context)) == []

        FaultyPersistence.reset(context)

        assert Store.transaction(store, "pre-key", fn tx ->
                 :ok = Store.set(tx, %{"pre-key": %{"2" => nil, "3" => nil}})
                 :ok = Store.set(tx, %{"pre-key": %{"4" => pair}})
                 :ok = Store.set(tx, %{"pre-key": %{"4" => nil}})
               end) == :ok

        assert Probes.writes(FaultyPersistence.calls(context)) == [{:delete, :"pre-key", "2"}]
        assert Store.get(store, :"pre-key", ["1", "2", "3", "4"]) == %{}
      end

      test "a failed write or load raises OperationError with the action and the reason", ctx do
        %{store: store} = ctx
        failing = %{"lid-mapping": %{"x" => {:fail_write, :eio}}}

        assert raised(fn -> Store.set(store, failing) end) == {:operation_error, :set, :eio}

        failing_transaction = fn -> Store.transaction(store, "k", &Store.set(&1, failing)) end

        assert raised(failing_transaction) ==
                 {:operation_error, :transaction, :eio}

        assert raised(fn -> Store.get(store, :"lid-mapping", ["a", "fail-load"]) end) ==
                 {:operation_error, :get, :eio}

        assert raised(fn ->
                 Store.transaction(store, "k", fn tx -> Store.get(tx, :session, ["fail-load"]) end)
               end) ==
                 {:operation_error, :get, :eio}

        assert Store.get(store, :"lid-mapping", ["x"]) == %{}
      end

      test "clear removes every key the store has written or read", ctx do
        %{store: store, backend: backend, dir: dir} = ctx

        assert Store.set(store, %{"lid-mapping": %{"a" => "1"}, "device-list": %{"b" => ["0"]}}) ==
                 :ok

        assert Store.get(store, :"lid-mapping", ["a"]) == %{"a" => "1"}

        assert Store.clear(store) == :ok
        assert Store.get(store, :"lid-mapping", ["a"]) == %{}
        assert Store.get(store, :"device-list", ["b"]) == %{}
        assert key_files(backend, dir) == []

        assert Store.transaction(store, "k", fn tx ->
                 :ok = Store.set(tx, %{"lid-mapping": %{"c" => "3"}})
                 :ok = Store.clear(tx)
                 assert Store.get(tx, :"lid-mapping", ["c"]) == %{}
                 :ok = Store.set(tx, %{"lid-mapping": %{"d" => "4"}})
               end) == :ok

        assert Store.get(store, :"lid-mapping", ["c", "d"]) == %{"d" => "4"}
        assert key_files(backend, dir) == ["lid-mapping-d"]
      end

      test "a store started again over the directory answers what was committed", ctx do
        %{store: store, config: config, backend: backend, dir: dir} = ctx

        values =
          for {type, [id | _]} <- Contract.ids(),
              into: %{},
              do: {type, %{id => Contract.value(type, 4)}}

        assert Store.set(store, values) == :ok

        assert Store.transaction(store, "k", fn tx ->
                 Store.set(tx, %{session: %{"tx" => Contract.value(:session, 5)}})
               end) == :ok

        Contract.stop(store)
        store = Contract.start(config, dir)

        for {type, entries} <- values, {id, value} <- entries do
          assert Store.get(store, type, [id]) == %{id => Parity.loaded(backend.name, type, value)}
        end

        assert Store.get(store, :session, ["tx"]) == %{"tx" => Contract.value(:session, 5)}
      end
    end
  end

  # A task in a transaction on `key` until it is sent `:release`; returns
  # once the transaction holds the key.
  defp hold(store, key) do
    parent = self()

    holder =
      Task.async(fn ->
        Store.transaction(store, key, fn _tx ->
          send(parent, {:holding, self()})
          assert_receive :release
        end)
      end)

    holder_pid = holder.pid
    assert_receive {:holding, ^holder_pid}
    holder
  end

  # Appends `n` to the device list `id` in a transaction on `key`.
  defp append(store, key, id, n) do
    Store.transaction(store, key, fn tx ->
      list = tx |> Store.get(:"device-list", [id]) |> Map.get(id, [])
      Store.set(tx, %{"device-list": %{id => list ++ [Integer.to_string(n)]}})
    end)
  end

  defp loaded(context) do
    context
    |> FaultyPersistence.calls()
    |> Enum.flat_map(fn
      {:load, _type, id} -> [id]
      {:load_many, _type, ids} -> ids
      _ -> []
    end)
  end

  defp raised(fun) do
    fun.()
    flunk("nothing raised")
  rescue
    error -> Contract.shared_form(error)
  end

  defp key_files(backend, dir) do
    for name <- File.ls!(dir),
        name not in [backend.manifest_file, backend.creds_file],
        do: Path.rootname(name)
  end
end
