defmodule Mix.Tasks.BaileysExNif.BenchSignalStore do
  @shortdoc "Benchmarks the Signal store set-ups (what BaileysEx calls)"
  @moduledoc """
  Runs the Signal store section of the benchmark:

      MIX_ENV=bench mix baileys_ex_nif.bench_signal_store [--quick]

  For each backend it times pairing (a `set` of 812 pre-keys), a group send
  (a `set` of 256 sessions), 200 receive transactions, 16 processes doing 25
  transactions each, and a restart (a new store reading 812 pre-keys and 256
  sessions), in three set-ups: BaileysEx's store (its pure-Elixir twin) over
  the baseline backend, the same store over this project's drop-in, and
  `BaileysEx.Auth.NIF.KeyStore` over the drop-in. Each scenario is judged
  for trust (other work on the machine, a disk whose flush time moved);
  untrusted ones get a warning under their table and in the chart.

  Prints the table and writes it to `bench/results/signal_store.txt`, the
  figures with every sample and verdict to `signal_store.json`, and the
  chart of the ratios to `signal_store.svg` (all in `bench/results/quick/`
  with `--quick`, which divides the key counts by 8 and runs each scenario
  once). No timing is ever asserted.
  """
  use Mix.Task

  alias BaileysEx.Auth.NIF.Bench.{
    Machine,
    ResultsJSON,
    SignalStore,
    SignalStoreChart,
    SignalStoreReport
  }

  @impl Mix.Task
  def run(args) do
    {opts, rest, invalid} = OptionParser.parse(args, strict: [quick: :boolean])

    if rest != [] or invalid != [] do
      Mix.raise("usage: mix baileys_ex_nif.bench_signal_store [--quick]")
    end

    Mix.Task.run("app.start")
    quick? = Keyword.get(opts, :quick, false)
    project = Path.dirname(Mix.Project.project_file())
    results_dir = Path.join(project, if(quick?, do: "bench/results/quick", else: "bench/results"))
    root = Path.join(project, "bench/results/tmp/signal_store")
    File.mkdir_p!(root)

    try do
      machine = Machine.info(root)
      mode = if quick?, do: :quick, else: :full
      {repeats, scale} = if quick?, do: {1, 8}, else: {5, 1}
      results = SignalStore.run(root, repeats, scale)

      text =
        "baileys_ex_nif_persistence Signal store benchmark (#{mode}), " <>
          "#{machine.date_utc}\nOTP #{machine.otp_version}, Elixir #{machine.elixir_version}, " <>
          "#{machine.schedulers_online} schedulers, #{machine.logical_processors} cores\n" <>
          SignalStoreReport.render(results, machine.fsync_probe_us)

      info = %{mode: mode, machine: machine, repeats: repeats, scale: scale}
      chart_title = "Signal store: twin + baseline time / the set-up's time (#{mode} run)"
      File.mkdir_p!(results_dir)
      File.write!(Path.join(results_dir, "signal_store.txt"), text)

      ResultsJSON.write!(
        Path.join(results_dir, "signal_store.json"),
        SignalStoreReport.json(results, info)
      )

      File.write!(
        Path.join(results_dir, "signal_store.svg"),
        SignalStoreChart.render(results, chart_title)
      )

      IO.write(text)

      IO.puts(
        "wrote " <>
          Enum.map_join(
            ~w(txt json svg),
            ", ",
            &Path.relative_to_cwd(Path.join(results_dir, "signal_store.#{&1}"))
          )
      )
    after
      File.rm_rf!(root)
    end
  end
end
