defmodule BaileysEx.Auth.NIF.KeyStore.LocksTest do
  @moduledoc """
  The lock processes of `BaileysEx.Auth.NIF.KeyStore`: exclusive, FIFO per
  name, freed when the owner dies (also an owner that died while queued),
  multi-name requests free of deadlock, and gone with the store process.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.KeyStore.Locks
  alias BaileysEx.Auth.NIF.Test.KeyStoreProbes, as: Probes

  setup do
    %{locks: Locks.start_partitions(3)}
  end

  test "a name is exclusive and waiters get it in arrival order", %{locks: locks} do
    parent = self()
    :ok = Locks.acquire(locks, [:a])

    waiters =
      for n <- 1..4 do
        pid =
          spawn_link(fn ->
            :ok = Locks.acquire(locks, [:a])
            send(parent, {:got, n})
            :ok = Locks.release(locks, [:a])
          end)

        Probes.await_blocked(pid)
        pid
      end

    refute_received {:got, _}
    :ok = Locks.release(locks, [:a])
    assert receive_all(4) == [1, 2, 3, 4]
    assert length(waiters) == 4
  end

  test "a name is freed when its owner dies, also an owner that died while waiting", %{
    locks: locks
  } do
    parent = self()

    owner =
      spawn(fn ->
        :ok = Locks.acquire(locks, [:a, :b])
        send(parent, :holding)
        Process.sleep(:infinity)
      end)

    assert_receive :holding
    queued = spawn(fn -> Locks.acquire(locks, [:a]) end)
    Probes.await_blocked(queued)
    waiter = Task.async(fn -> Locks.with_locks(locks, [:b, :a], fn -> :done end) end)
    Probes.await_blocked(waiter.pid)

    Process.exit(queued, :kill)
    Process.exit(owner, :kill)
    assert Task.await(waiter, 120_000) == :done
    assert Locks.with_locks(locks, [:a, :b], fn -> :free end) == :free
  end

  test "a release by a process that does not hold the name is ignored", %{locks: locks} do
    :ok = Locks.acquire(locks, [:a])
    task = Task.async(fn -> Locks.release(locks, [:a]) end)
    Task.await(task, 120_000)
    contender = Task.async(fn -> Locks.acquire(locks, [:a]) end)
    Probes.await_blocked(contender.pid)
    :ok = Locks.release(locks, [:a])
    assert Task.await(contender, 120_000) == :ok
  end

  test "overlapping multi-name requests never deadlock and never share a name", %{locks: locks} do
    holders = :ets.new(:holders, [:public])
    names = for i <- 1..12, do: {:stripe, i}

    tasks =
      for seed <- 1..16 do
        Task.async(fn ->
          :rand.seed(:exsss, {seed, 3, 5})

          for _ <- 1..40 do
            wanted = Enum.take_random(names, :rand.uniform(5))

            Locks.with_locks(locks, wanted, fn ->
              for name <- wanted, do: assert(:ets.insert_new(holders, {name, self()}))
              for name <- wanted, do: :ets.delete(holders, name)
            end)
          end

          :ok
        end)
      end

    assert Enum.map(tasks, &Task.await(&1, 60_000)) == List.duplicate(:ok, 16)
  end

  test "the lock processes stop with the process that started them" do
    parent = self()

    starter =
      spawn(fn ->
        send(parent, {:locks, Locks.start_partitions(2)})
        receive do: (:stop -> :ok)
      end)

    assert_receive {:locks, locks}
    monitors = for pid <- Tuple.to_list(locks), do: Process.monitor(pid)
    send(starter, :stop)

    for monitor <- monitors, do: assert_receive({:DOWN, ^monitor, :process, _, :normal})
  end

  test "key names cover every key with a stripe, and all stripes cover them all" do
    keys = for type <- [:session, :"pre-key"], id <- 1..200, do: {type, "#{id}"}
    names = Locks.key_names(keys)
    assert names == Enum.uniq(names)
    assert MapSet.subset?(MapSet.new(names), MapSet.new(Locks.all_key_names()))

    assert Locks.key_names([{:session, "a"}]) ==
             Locks.key_names([{:session, "a"}, {:session, "a"}])
  end

  defp receive_all(0), do: []

  defp receive_all(n) do
    receive do
      {:got, got} -> [got | receive_all(n - 1)]
    end
  end
end
