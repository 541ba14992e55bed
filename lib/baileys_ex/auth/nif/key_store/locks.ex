defmodule BaileysEx.Auth.NIF.KeyStore.Locks do
  @moduledoc """
  Named exclusive locks for one key store, spread over a few lock processes.

  A lock is granted to a process and queued in arrival order while it is
  held; it is freed when its owner releases it or dies (the lock process
  monitors every owner). A request may name several locks: the locks of
  each lock process are taken in term order and the lock processes in index
  order, so two requests never wait on each other in a cycle.

  The lock processes only keep books; no disk work and no sleep happens in
  them, and each lock name always lives in the same one, so unrelated
  requests rarely meet in a mailbox.

  Two kinds of names are used by the store: `{:transaction, key}` for the
  per-key-string transactions of `transaction/3`, and stripes of the cache
  keys (`key_names/1`), held while a commit or a cache fill touches those
  keys. `clear/1` takes every stripe (`all_key_names/0`).
  """

  use GenServer

  @stripes 1024

  @typedoc "The lock processes of one store, indexed from 0."
  @type t :: tuple()

  @typedoc "A lock name."
  @type name :: term()

  @doc """
  Starts `count` lock processes linked to the caller. Each stops when the
  caller (the store process) exits.
  """
  @spec start_partitions(pos_integer()) :: t()
  def start_partitions(count) when is_integer(count) and count > 0 do
    owner = self()

    1..count
    |> Enum.map(fn _ ->
      {:ok, pid} = GenServer.start_link(__MODULE__, owner)
      pid
    end)
    |> List.to_tuple()
  end

  @doc """
  Blocks until the calling process holds every lock in `names` (duplicates
  are ignored). A process must not ask for a lock it already holds: it
  would wait for itself.
  """
  @spec acquire(t(), [name()]) :: :ok
  def acquire(locks, names) when is_tuple(locks) and is_list(names) do
    owner = self()

    locks
    |> by_partition(names)
    |> Enum.each(fn {index, part} ->
      :ok = GenServer.call(elem(locks, index), {:acquire, part, owner}, :infinity)
    end)
  end

  @doc "Releases the locks in `names` held by the calling process; others are ignored."
  @spec release(t(), [name()]) :: :ok
  def release(locks, names) when is_tuple(locks) and is_list(names) do
    owner = self()

    locks
    |> by_partition(names)
    |> Enum.each(fn {index, part} ->
      GenServer.cast(elem(locks, index), {:release, part, owner})
    end)
  end

  @doc """
  Runs `fun` holding every lock in `names`, releasing them afterwards
  whatever `fun` does.
  """
  @spec with_locks(t(), [name()], function()) :: term()
  def with_locks(locks, names, fun) when is_tuple(locks) and is_list(names) do
    :ok = acquire(locks, names)

    try do
      fun.()
    after
      release(locks, names)
    end
  end

  @doc "The lock name of the transactions on the key string `key`."
  @spec transaction_name(String.t()) :: name()
  def transaction_name(key) when is_binary(key), do: {:transaction, key}

  @doc """
  The stripe locks covering the cache keys `keys` (`{type, id}` pairs).
  Different keys may share a stripe; that only makes them wait for each
  other briefly.
  """
  @spec key_names([{term(), term()}]) :: [name()]
  def key_names(keys) when is_list(keys) do
    keys |> Enum.map(&{:stripe, :erlang.phash2(&1, @stripes)}) |> Enum.uniq()
  end

  @doc "Every stripe lock: whoever holds them all excludes every commit and cache fill."
  @spec all_key_names() :: [name()]
  def all_key_names, do: for(i <- 0..(@stripes - 1), do: {:stripe, i})

  defp by_partition(locks, names) do
    count = tuple_size(locks)

    names
    |> Enum.uniq()
    |> Enum.group_by(&:erlang.phash2(&1, count))
    |> Enum.sort()
    |> Enum.map(fn {index, part} -> {index, Enum.sort(part)} end)
  end

  # State: `locks` maps a held name to `{owner, queue}`, where the queue holds
  # `{from, owner, names}` requests waiting for that name (the first of
  # `names`); `owners` maps an owner to its monitor and the names it holds.

  @impl true
  def init(store) do
    Process.monitor(store)
    {:ok, %{store: store, locks: %{}, owners: %{}}}
  end

  @impl true
  def handle_call({:acquire, names, owner}, from, state) do
    {:noreply, take(state, {from, owner, names})}
  end

  @impl true
  def handle_cast({:release, names, owner}, state) do
    {:noreply, Enum.reduce(names, state, &release_name(&2, owner, &1))}
  end

  @impl true
  def handle_info({:DOWN, _ref, :process, store, _reason}, %{store: store} = state) do
    {:stop, :normal, state}
  end

  def handle_info({:DOWN, ref, :process, owner, _reason}, state) do
    case Map.fetch(state.owners, owner) do
      {:ok, {^ref, names}} -> {:noreply, Enum.reduce(names, state, &release_name(&2, owner, &1))}
      _other -> {:noreply, state}
    end
  end

  # Takes the request's names in order; at the first one held by someone
  # else the request waits in that name's queue with the names still to take.
  defp take(state, {from, _owner, []}) do
    GenServer.reply(from, :ok)
    state
  end

  defp take(state, {from, owner, [name | rest]} = request) do
    case Map.fetch(state.locks, name) do
      :error ->
        state |> grant(name, owner, :queue.new()) |> take({from, owner, rest})

      {:ok, {holder, queue}} ->
        %{state | locks: Map.put(state.locks, name, {holder, :queue.in(request, queue)})}
    end
  end

  defp grant(state, name, owner, queue) do
    owners =
      case Map.fetch(state.owners, owner) do
        {:ok, {ref, names}} -> Map.put(state.owners, owner, {ref, MapSet.put(names, name)})
        :error -> Map.put(state.owners, owner, {Process.monitor(owner), MapSet.new([name])})
      end

    %{state | locks: Map.put(state.locks, name, {owner, queue}), owners: owners}
  end

  defp release_name(state, owner, name) do
    case Map.fetch(state.locks, name) do
      {:ok, {^owner, queue}} -> state |> forget(owner, name) |> hand_over(name, queue)
      _other -> state
    end
  end

  defp forget(state, owner, name) do
    {ref, names} = Map.fetch!(state.owners, owner)
    names = MapSet.delete(names, name)

    if MapSet.size(names) == 0 do
      Process.demonitor(ref, [:flush])
      %{state | owners: Map.delete(state.owners, owner)}
    else
      %{state | owners: Map.put(state.owners, owner, {ref, names})}
    end
  end

  # The next waiter gets the name and goes on with its other names. A waiter
  # that died meanwhile is granted too: its monitor fires at once and frees it.
  defp hand_over(state, name, queue) do
    case :queue.out(queue) do
      {{:value, {from, owner, [^name | rest]}}, waiting} ->
        state |> grant(name, owner, waiting) |> take({from, owner, rest})

      {:empty, _queue} ->
        %{state | locks: Map.delete(state.locks, name)}
    end
  end
end
