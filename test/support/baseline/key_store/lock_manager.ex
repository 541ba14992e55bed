defmodule BaileysEx.Auth.NIF.Baseline.KeyStore.LockManager do
  @moduledoc """
  Twin of BaileysEx's `Signal.Store.LockManager`: the transaction locks of
  `BaileysEx.Auth.NIF.Baseline.KeyStore`, kept in its GenServer state. One
  owner per key string, monitored while it holds the lock; other callers
  wait in a FIFO queue and get their `GenServer.reply/2` when the lock is
  passed to them; a release by a process that is not the owner does
  nothing; an owner's death releases its lock. Never shipped.
  """

  @typedoc "The part of the store's state the locks live in."
  @type state :: %{
          required(:locks) => map(),
          required(:monitor_keys) => map(),
          optional(atom()) => term()
        }

  @doc """
  Takes `key` for `owner` when it is free (`:acquired`), else queues the
  caller `from` (`:queued`): the store then replies later.
  """
  @spec acquire(state(), term(), GenServer.from(), pid()) :: {:acquired | :queued, state()}
  def acquire(state, key, from, owner) do
    case state.locks do
      %{^key => lock} ->
        lock = %{lock | queue: :queue.in({from, owner}, lock.queue)}
        {:queued, %{state | locks: Map.put(state.locks, key, lock)}}

      _free ->
        {:acquired, hold(state, key, owner, :queue.new())}
    end
  end

  @doc "Releases `key` if `owner` holds it and passes it to the first waiter."
  @spec release(state(), term(), pid()) :: state()
  def release(state, key, owner) do
    case state.locks do
      %{^key => %{owner: ^owner, monitor: monitor, queue: queue}} ->
        Process.demonitor(monitor, [:flush])
        state = %{state | monitor_keys: Map.delete(state.monitor_keys, monitor)}
        pass_on(state, key, queue)

      _other ->
        state
    end
  end

  @doc "Releases the lock whose owner's monitor `monitor` fired."
  @spec owner_down(state(), reference(), pid()) :: state()
  def owner_down(state, monitor, owner) do
    case Map.fetch(state.monitor_keys, monitor) do
      {:ok, key} -> release(state, key, owner)
      :error -> state
    end
  end

  defp hold(state, key, owner, queue) do
    monitor = Process.monitor(owner)

    %{
      state
      | locks: Map.put(state.locks, key, %{owner: owner, monitor: monitor, queue: queue}),
        monitor_keys: Map.put(state.monitor_keys, monitor, key)
    }
  end

  defp pass_on(state, key, queue) do
    case :queue.out(queue) do
      {{:value, {from, owner}}, waiting} ->
        state = hold(state, key, owner, waiting)
        GenServer.reply(from, :ok)
        state

      {:empty, _} ->
        %{state | locks: Map.delete(state.locks, key)}
    end
  end
end
