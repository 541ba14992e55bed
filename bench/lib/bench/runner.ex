defmodule BaileysEx.Auth.NIF.Bench.Runner do
  @moduledoc """
  Runs the whole benchmark: for each backend (ETF, JSON), the NIF against
  its baseline in the same VM, scenario by scenario; then prints the report
  and writes `latest.json` (raw figures and machine information) and
  `scaling.svg` into the results directory.

  Each section (single calls, scaling, pairing, concurrency, replay) runs
  between two samples of the machine's state; a section that `Trust` does
  not trust gets a warning as it ends, beside its table, in the chart and
  in `latest.json`.
  """

  alias BaileysEx.Auth.NIF.Bench.{
    Commits,
    Concurrency,
    Conditions,
    Config,
    Implementations,
    Machine,
    Replay,
    Report,
    ResultsJSON,
    Row,
    Scaling,
    Scenarios,
    SVGChart,
    Timing,
    Trust,
    Workspace
  }

  @typedoc "Options: `mode` (`:quick` or `:full`), `backends`, `results_dir`."
  @type opts :: %{
          mode: :quick | :full,
          backends: [Implementations.backend()],
          results_dir: Path.t()
        }

  @doc "Runs the benchmark and returns the report text."
  @spec run(opts()) :: String.t()
  def run(%{mode: mode, backends: backends, results_dir: results_dir}) do
    config = Config.get(mode)
    ws = Workspace.new(results_dir)
    started = Timing.now_ms()

    try do
      machine = Machine.info(ws.root)

      say(
        "benchmark (#{mode} mode) on OTP #{machine.otp_version}, Elixir #{machine.elixir_version}"
      )

      results =
        backends
        |> Enum.map(&Implementations.plan/1)
        |> Enum.map(&run_backend(&1, ws, config, started))

      report =
        Report.render(%{machine: machine, mode: mode, backends: results}) <>
          Commits.render(results)

      elapsed_s = (Timing.now_ms() - started) / 1000

      json_path = Path.join(results_dir, "latest.json")
      svg_path = Path.join(results_dir, "scaling.svg")
      ResultsJSON.write!(json_path, results_json(machine, config, results, elapsed_s))
      File.write!(svg_path, chart(results, mode))

      "\n" <>
        report <>
        "\nwrote #{Path.relative_to_cwd(json_path)} and #{Path.relative_to_cwd(svg_path)} " <>
        "(#{:erlang.float_to_binary(elapsed_s, decimals: 1)} s)\n"
    after
      Workspace.cleanup(ws)
    end
  end

  defp run_backend(%{impls: []} = plan, _ws, _config, _started) do
    say("#{plan.title}: nothing to run")
    Enum.each(plan.skipped, &say("  #{&1}"))

    %{
      plan: plan,
      rows: [],
      notes: ["nothing to run: no implementation is available"],
      sections: []
    }
  end

  defp run_backend(plan, ws, config, started) do
    say(
      "#{plan.title}: " <> Enum.map_join(plan.impls, ", ", &"#{&1.label} #{inspect(&1.module)}")
    )

    Enum.each(plan.skipped, &say("  #{&1}"))

    progress = fn what ->
      elapsed = :erlang.float_to_binary((Timing.now_ms() - started) / 1000, decimals: 1)
      say("  [#{String.pad_leading(elapsed, 6)} s] #{plan.title} #{what}")
    end

    watch = fn section, label, fun ->
      {result, before, after_} = Conditions.around(ws.root, fun)
      verdict = Trust.judge(before, after_)
      if warning = Trust.warning(label, verdict), do: progress.(warning)
      {result, Map.merge(verdict, %{section: section, label: label})}
    end

    {single, single_trust} =
      watch.(:single, "single calls", fn ->
        Scenarios.single_ops(plan, ws, config, progress)
      end)

    {scaling, scaling_trust} =
      watch.(:scaling, "scaling", fn ->
        Scaling.run(plan, ws, config, fn what -> progress.("scaling: #{what}") end)
      end)

    progress.("pairing")

    {pairing, pairing_trust} =
      watch.(:bulk, "pairing", fn -> Scenarios.pairing(plan, ws, config) end)

    progress.("concurrency")

    {concurrency, concurrency_trust} =
      watch.(:concurrency, "concurrency", fn -> Concurrency.run(plan, ws, config) end)

    {replay, replay_trust} =
      watch.(:replay, "replay", fn ->
        Replay.run(plan, ws, config, fn what -> progress.("replay: #{what}") end)
      end)

    {commits, commits_trust} =
      watch.(:commits, "commits", fn -> Commits.run(plan, ws, config, progress) end)

    %{
      plan: plan,
      rows: single ++ scaling.rows ++ [pairing, concurrency] ++ replay ++ commits,
      notes: ["scaling: #{scaling.fill}"],
      sections: [
        single_trust,
        scaling_trust,
        pairing_trust,
        concurrency_trust,
        replay_trust,
        commits_trust
      ]
    }
  end

  defp chart(results, mode) do
    warnings =
      for %{plan: plan, sections: sections} <- results,
          %{section: :scaling, label: label} = verdict <- sections,
          line = Trust.warning(label, verdict),
          do: "#{plan.title}: #{line}"

    results
    |> Enum.map(&{&1.plan.backend, &1.plan.title, &1.rows})
    |> SVGChart.series()
    |> SVGChart.render("Cost per call vs keys already in the directory (#{mode} run)", warnings)
  end

  defp results_json(machine, config, results, elapsed_s) do
    %{
      format: 2,
      mode: config.mode,
      elapsed_s: elapsed_s,
      machine: machine,
      config: Map.drop(config, [:mode]),
      targets: %{
        single_key_calls: 3.0,
        load_keys_at_10k_keys: 10.0,
        new_key_save_keys_at_10k_keys: 5.0
      },
      trusted: Enum.all?(results, fn result -> Enum.all?(result.sections, & &1.trusted) end),
      trust_rules: Trust.rules(),
      backends:
        Enum.map(results, fn %{plan: plan, rows: rows} = result ->
          %{
            backend: plan.backend,
            implementations:
              Enum.map(plan.impls, &%{role: &1.id, module: inspect(&1.module), source: &1.source}),
            skipped: plan.skipped,
            notes: Map.get(result, :notes, []),
            sections: Enum.map(result.sections, &ResultsJSON.rounded/1),
            rows: Enum.map(rows, &row_json/1)
          }
        end)
    }
  end

  defp row_json(row) do
    base = %{
      name: row.name,
      kind: row.kind,
      section: row.section,
      op: Map.get(row, :op),
      size: Map.get(row, :size),
      calls: Map.get(row, :ops),
      target: Map.get(row, :target),
      ratio: ResultsJSON.rounded(Row.ratio(row)),
      status: Row.status(row),
      note: Map.get(row, :note),
      figures: Map.new(row.figures, fn {id, f} -> {id, ResultsJSON.rounded(f)} end)
    }

    case Map.get(row, :samples) do
      nil ->
        base

      samples ->
        Map.put(
          base,
          :samples_us,
          Map.new(samples, fn {id, list} -> {id, Enum.map(list, &Float.round(&1, 1))} end)
        )
    end
  end

  defp say(line), do: IO.puts(line)
end
