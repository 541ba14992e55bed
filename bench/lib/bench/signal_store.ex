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
  compare the first set-up with each of the others. Nothing is asserted.
  """

  alias BaileysEx.Auth.NIF.Baseline.KeyStore, as: TwinStore
  alias BaileysEx.Auth.NIF.Bench.{Timing, Values}
  alias BaileysEx.Auth.NIF.KeyStore, as: NifStore
  alias BaileysEx.Auth.NIF.Test.Backends

  @setups [:twin_baseline, :twin_nif, :nif_nif]
  @labels %{
    twin_baseline: "twin + baseline",
    twin_nif: "twin + NIF",
    nif_nif: "NIF store + NIF"
  }
  @targets %{pairing: 30, group_send: 20, receive: 4, concurrent: 10, restart: 20}

  @typedoc "One scenario's medians (ms) per set-up."
  @type row :: %{name: String.t(), ms: %{atom() => float()}, target: number() | nil}

  @doc """
  Runs every scenario for each backend under `root` (`repeats` times each,
  `scale` dividing the key counts) and returns `%{backend => [row]}`.
  """
  @spec run(Path.t(), pos_integer(), pos_integer()) :: %{atom() => [row()]}
  def run(root, repeats, scale) do
    Map.new(Backends.all(), fn backend ->
      {backend.name, Enum.map(scenarios(scale), &measure(&1, backend, root, repeats))}
    end)
  end

  @doc "The section's text: a table per backend with both ratios and targets."
  @spec render(%{atom() => [row()]}, number()) :: String.t()
  def render(results, flush_us) do
    header =
      "== Signal store (what BaileysEx calls), median ms of the whole scenario ==\n" <>
        "disk: write+fsync of 4 KiB takes #{round(flush_us)} µs (median)\n" <>
        "ratios: twin + baseline time / the set-up's time; target applies to NIF store + NIF\n"

    tables =
      for {backend, rows} <- Enum.sort(results) do
        "\n#{backend}:\n" <>
          String.pad_trailing("scenario", 42) <>
          Enum.map_join(@setups, &String.pad_leading(@labels[&1], 17)) <>
          "   ratio (twin+NIF)   ratio (NIF store)   target\n" <>
          Enum.map_join(rows, "\n", &render_row/1) <> "\n"
      end

    header <> Enum.join(tables)
  end

  defp render_row(row) do
    base = row.ms.twin_baseline
    ratio = fn id -> base / max(row.ms[id], 0.001) end
    nif_ratio = ratio.(:nif_nif)

    target =
      case row.target do
        nil -> ""
        t when nif_ratio >= t -> ">=#{t}x ok"
        t -> ">=#{t}x MISSED"
      end

    String.pad_trailing(row.name, 42) <>
      Enum.map_join(@setups, &String.pad_leading(fmt(row.ms[&1]), 17)) <>
      String.pad_leading("#{fmt(ratio.(:twin_nif))}x", 19) <>
      String.pad_leading("#{fmt(nif_ratio)}x", 20) <> "   " <> target
  end

  defp fmt(value) when value >= 100, do: Integer.to_string(round(value))
  defp fmt(value), do: :erlang.float_to_binary(value / 1, decimals: 1)

  defp scenarios(scale) do
    pre_keys = max(div(812, scale), 4)
    sessions = max(div(256, scale), 4)
    receives = max(div(200, scale), 4)

    [
      {:pairing, "pairing: set of #{pre_keys} pre-keys", fn _store -> :ok end,
       fn store, _ -> set(store, %{"pre-key": pre_key_map(1..pre_keys)}) end},
      {:group_send, "group send: set of #{sessions} sessions", fn _store -> :ok end,
       fn store, _ -> set(store, %{session: session_map(1..sessions, 0)}) end},
      {:receive, "#{receives} receive transactions",
       fn store -> set(store, %{session: session_map(1..receives, 0)}) end,
       fn store, _ -> Enum.each(1..receives, &receive_one(store, &1)) end},
      {:concurrent, "16 processes x 25 transactions",
       fn store -> set(store, %{session: session_map(1..16, 0)}) end,
       fn store, _ ->
         1..16
         |> Enum.map(fn p ->
           Task.async(fn -> Enum.each(1..25, fn _ -> receive_one(store, p) end) end)
         end)
         |> Task.await_many(:infinity)
       end},
      {:restart, "restart: get #{pre_keys} pre-keys + #{sessions} sessions",
       fn store ->
         set(store, %{
           "pre-key": pre_key_map(1..pre_keys),
           session: session_map(1..sessions, 0)
         })
       end, :restart}
    ]
    |> Enum.map(fn {key, name, prepare, run} ->
      %{key: key, name: name, prepare: prepare, run: run, ids: {pre_keys, sessions}}
    end)
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
      name: scenario.name,
      ms: Map.new(samples, fn {id, list} -> {id, median(list)} end),
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
