defmodule Mix.Tasks.BaileysExNif.Bench do
  @shortdoc "Benchmarks the NIF backends against the pure-Elixir baselines"

  @moduledoc """
  Benchmarks `BaileysEx.Auth.NIF.NativeFilePersistence` (ETF) and
  `BaileysEx.Auth.NIF.FilePersistence` (JSON) against their baselines: the
  real BaileysEx modules when they are loaded, else their pure-Elixir twins
  from `test/support/baseline`. Missing implementations are skipped, with
  the reason printed.

      MIX_ENV=bench mix baileys_ex_nif.bench [--quick] [--only etf|json]

  Runs in the `bench` environment (which compiles `bench/lib` and
  `test/support`). Scenarios: single calls on a small and a large key,
  credentials, the hot path (re-saving a session), scaling with the number of
  keys present, pairing, concurrent writers and a replay of a busy day.

  Prints a table and writes `bench/results/latest.json` and
  `bench/results/scaling.svg` (`bench/results/quick/` with `--quick`). Scratch directories live under
  `bench/results/tmp/` and are removed at the end.

  Options:

    * `--quick` - small sizes and few samples (well under a minute); no
      timing is asserted;
    * `--only etf` / `--only json` - run one backend.
  """

  use Mix.Task

  alias BaileysEx.Auth.NIF.Bench.{Implementations, Runner}

  @impl Mix.Task
  def run(args) do
    {opts, rest, invalid} = OptionParser.parse(args, strict: [quick: :boolean, only: :string])

    if rest != [] or invalid != [] do
      Mix.raise("usage: mix baileys_ex_nif.bench [--quick] [--only etf|json]")
    end

    Mix.Task.run("app.start")

    backends =
      case Keyword.get(opts, :only) do
        nil -> Implementations.backends()
        "etf" -> [:etf]
        "json" -> [:json]
        other -> Mix.raise("--only must be etf or json, got: #{other}")
      end

    mode = if Keyword.get(opts, :quick, false), do: :quick, else: :full
    # Quick runs never overwrite the committed figures of a full run.
    subdir = if mode == :quick, do: "bench/results/quick", else: "bench/results"
    results_dir = Path.join(Path.dirname(Mix.Project.project_file()), subdir)

    %{mode: mode, backends: backends, results_dir: results_dir}
    |> Runner.run()
    |> IO.write()
  end
end
