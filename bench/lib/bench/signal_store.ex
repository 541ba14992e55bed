defmodule BaileysEx.Auth.NIF.Bench.SignalStore do
  @moduledoc """
  The Signal store section: what BaileysEx itself calls through its store
  (`get`, `set`, `transaction`), in three set-ups per backend:

    * `twin + baseline`: the pure-Elixir twin of `BaileysEx.Auth.KeyStore`
      over the pure-Elixir twin of the original backend (what an app runs
      today);
    * `twin + NIF`: the same store over this project's drop-in (the alias
      swap alone);
    * `NIF store + NIF`: `BaileysEx.Auth.NIF.KeyStore` over the drop-in,
      every `set` and transaction one atomic commit.

  Each scenario runs in a fresh directory per set-up (removed only when the
  whole run ends), the set-ups in turn
  (the order alternating between repetitions) with the page cache written
  back before each, and the median of the repetitions is reported. Ratios
  compare the first set-up with each of the others. Each scenario (all its
  repetitions and set-ups) runs between two samples of `Conditions`, and
  `Trust` judges whether its figures can be trusted. Nothing is asserted.
  """

  alias BaileysEx.Auth.NIF.Baseline.KeyStore, as: TwinStore
  alias BaileysEx.Auth.NIF.Bench.{Conditions, Timing, Trust, Values}
  alias BaileysEx.Auth.NIF.KeyStore, as: NifStore
  alias BaileysEx.Auth.NIF.Test.Backends

  @setups [:twin_baseline, :twin_nif, :nif_nif]
  @labels %{
    twin_baseline: "twin + baseline",
    twin_nif: "twin + NIF",
    nif_nif: "NIF store + NIF"
  }
  @targets %{pairing: 30, group_send: 20, receive: 4, concurrent: 10, restart: 20}
  @short %{
    pairing: "pairing",
    group_send: "group send",
    receive: "receive",
    concurrent: "16 processes",
    restart: "restart"
  }

  @typedoc """
  One scenario of one backend: `key` and `short` name it, `keys` counts the
  keys it sets or reads per type, `transactions` the transactions it runs;
  `ms` holds the median (ms) per set-up, `samples` every repetition's time
  (ms, in the order run), `verdict` the `Trust` judgement of the scenario.
  """
  @type row :: %{
          key: atom(),
          name: String.t(),
          short: String.t(),
          keys: %{atom() => non_neg_integer()},
          transactions: non_neg_integer(),
          ms: %{atom() => float()},
          samples: %{atom() => [float()]},
          target: number() | nil,
          verdict: Trust.verdict()
        }

  @doc """
  Runs every scenario for each backend under `root` (`repeats` times each,
  `scale` dividing the key counts) and returns `%{backend => [row]}`.
  """
  @spec run(Path.t(), pos_integer(), pos_integer()) :: %{atom() => [row()]}
  def run(root, repeats, scale) do
    Map.new(Backends.all(), fn backend ->
      {backend.name, Enum.map(scenarios(scale), &judged(&1, backend, root, repeats))}
    end)
  end

  @doc "The set-ups, the one every ratio compares against first."
  @spec setups() :: [atom()]
  def setups, do: @setups

  @doc "How a set-up is named in tables and charts."
  @spec label(atom()) :: String.t()
  def label(setup) when is_map_key(@labels, setup), do: Map.fetch!(@labels, setup)

  @doc """
  The ratio `twin + baseline` time / `setup`'s time of a row (above 1 the
  set-up is faster).
  """
  @spec ratio(row(), atom()) :: float()
  def ratio(%{ms: ms}, setup), do: ms.twin_baseline / max(ms[setup], 0.001)

  @doc "Whether `NIF store + NIF` meets the row's target; `nil` without one."
  @spec met?(row()) :: boolean() | nil
  def met?(%{target: nil}), do: nil
  def met?(%{target: target} = row), do: ratio(row, :nif_nif) >= target

  defp scenarios(scale) do
    pre_keys = max(div(812, scale), 4)
    sessions = max(div(256, scale), 4)
    receives = max(div(200, scale), 4)

    [
      {:pairing, "pairing: set of #{pre_keys} pre-keys", {pre_keys, 0, 0}, fn _store -> :ok end,
       fn store, _ -> set(store, %{"pre-key": pre_key_map(1..pre_keys)}) end},
      {:group_send, "group send: set of #{sessions} sessions", {0, sessions, 0},
       fn _store -> :ok end,
       fn store, _ -> set(store, %{session: session_map(1..sessions, 0)}) end},
      {:receive, "#{receives} receive transactions", {0, receives, receives},
       fn store -> set(store, %{session: session_map(1..receives, 0)}) end,
       fn store, _ -> Enum.each(1..receives, &receive_one(store, &1)) end},
      {:concurrent, "16 processes x 25 transactions", {0, 16, 16 * 25},
       fn store -> set(store, %{session: session_map(1..16, 0)}) end,
       fn store, _ ->
         1..16
         |> Enum.map(fn p ->
           Task.async(fn -> Enum.each(1..25, fn _ -> receive_one(store, p) end) end)
         end)
         |> Task.await_many(:infinity)
       end},
      {:restart, "restart: get #{pre_keys} pre-keys + #{sessions} sessions",
       {pre_keys, sessions, 0},
       fn store ->
         set(store, %{
           "pre-key": pre_key_map(1..pre_keys),
           session: session_map(1..sessions, 0)
         })
       end, :restart}
    ]
    |> Enum.map(fn {key, name, {pre_key_count, session_count, transactions}, prepare, run} ->
      %{
        key: key,
        name: name,
        keys: %{"pre-key": pre_key_count, session: session_count},
        transactions: transactions,
        prepare: prepare,
        run: run,
        ids: {pre_keys, sessions}
      }
    end)
  end

  # The probes of `Conditions` write in `root` too, outside the timed runs.
  defp judged(scenario, backend, root, repeats) do
    {row, before, after_} =
      Conditions.around(root, fn -> measure(scenario, backend, root, repeats) end)

    Map.put(row, :verdict, Trust.judge(before, after_))
  end

  defp measure(scenario, backend, root, repeats) do
    samples =
      for rep <- 1..repeats, reduce: Map.new(@setups, &{&1, []}) do
        acc ->
          order = if rem(rep, 2) == 0, do: Enum.reverse(@setups), else: @setups

          Enum.reduce(order, acc, fn setup, acc ->
            dir =
              Path.join(root, "#{backend.name}-#{setup}-#{System.unique_integer([:positive])}")

            # The directory stays until the whole run ends: removing
            # thousands of files leaves the filesystem work (block
            # discards, journal commits) that the next timed commit
            # would wait for.
            ms = run_once(scenario, setup, backend, dir)
            Map.update!(acc, setup, &[ms | &1])
          end)
      end

    %{
      key: scenario.key,
      name: scenario.name,
      short: Map.fetch!(@short, scenario.key),
      keys: scenario.keys,
      transactions: scenario.transactions,
      ms: Map.new(samples, fn {id, list} -> {id, median(list)} end),
      samples: Map.new(samples, fn {id, list} -> {id, Enum.reverse(list)} end),
      target: @targets[scenario.key]
    }
  end

  defp run_once(scenario, setup, backend, dir) do
    {store, pid} = start(setup, backend, dir)
    scenario.prepare.(store)

    {store, pid} =
      if scenario.run == :restart do
        GenServer.stop(pid)
        start(setup, backend, dir)
      else
        {store, pid}
      end

    Timing.write_back()
    {us, _} = Timing.time_us(fn -> run_scenario(scenario, store) end)
    GenServer.stop(pid)
    us / 1000
  end

  defp run_scenario(%{run: :restart, ids: {pre_keys, sessions}}, store) do
    module = store_module(store)
    ^pre_keys = map_size(module.get(store, :"pre-key", Enum.map(1..pre_keys, &to_string/1)))
    ^sessions = map_size(module.get(store, :session, Enum.map(1..sessions, &"s#{&1}")))
  end

  defp run_scenario(%{run: run}, store), do: run.(store, nil)

  defp start(setup, backend, dir) do
    {module, persistence} =
      case setup do
        :twin_baseline -> {TwinStore, backend.twin}
        :twin_nif -> {TwinStore, backend.module}
        :nif_nif -> {NifStore, backend.module}
      end

    {:ok, pid} = module.start_link(persistence_module: persistence, persistence_context: dir)
    {module.wrap(pid), pid}
  end

  defp store_module(%TwinStore.Ref{}), do: TwinStore
  defp store_module(%TwinStore.TxRef{}), do: TwinStore
  defp store_module(_other), do: NifStore

  defp set(store, data), do: store_module(store).set(store, data)

  # One received message: read the session, write it back advanced.
  defp receive_one(store, n) do
    module = store_module(store)
    id = "s#{n}"

    module.transaction(store, "session:#{id}", fn tx ->
      %{^id => record} = module.get(tx, :session, [id])
      counter = Enum.random(1..1_000_000)
      module.set(tx, %{session: %{id => Values.advance_session(record, counter)}})
    end)
  end

  defp pre_key_map(range), do: Map.new(range, &{to_string(&1), Values.pre_key(&1)})

  defp session_map(range, counter),
    do: Map.new(range, &{"s#{&1}", Values.session_record(&1, 5, counter)})

  defp median(list) do
    sorted = Enum.sort(list)
    Enum.at(sorted, div(length(sorted), 2))
  end
end
