defmodule Mix.Tasks.BaileysExNif.Bench do
  @shortdoc "Benchmarks the NIF backends against the pure-Elixir baselines"

  @moduledoc """
  Benchmarks `BaileysEx.Auth.NIF.NativeFilePersistence` (ETF) and
  `BaileysEx.Auth.NIF.FilePersistence` (JSON) against their baselines: the
  real BaileysEx modules when they are loaded, else their pure-Elixir twins
  from `test/support/baseline`. Missing implementations are skipped, with
  the reason printed.

      MIX_ENV=bench mix baileys_ex_nif.bench [--quick] [--only etf|json|commits]

  Runs in the `bench` environment (which compiles `bench/lib` and
  `test/support`). Scenarios: single calls on a small and a large key,
  credentials, the hot path (re-saving a session), scaling with the number of
  keys present, pairing, concurrent writers, a replay of a busy day, and
  atomic commits and batch loads against the same keys one call at a time.

  Prints a table and writes `bench/results/latest.json` and
  `bench/results/scaling.svg` (`bench/results/quick/` with `--quick`). Scratch directories live under
  `bench/results/tmp/` and are removed at the end.

  Options:

    * `--quick` - small sizes and few samples (well under a minute); no
      timing is asserted;
    * `--only etf` / `--only json` - run one backend;
    * `--only commits` - run only the commits section, for both backends,
      and write `commits.json` instead of the other files.
  """

  use Mix.Task

  alias BaileysEx.Auth.NIF.Bench.{Commits, Implementations, Runner}

  @impl Mix.Task
  def run(args) do
    {opts, rest, invalid} = OptionParser.parse(args, strict: [quick: :boolean, only: :string])

    if rest != [] or invalid != [] do
      Mix.raise("usage: mix baileys_ex_nif.bench [--quick] [--only etf|json|commits]")
    end

    Mix.Task.run("app.start")
    mode = if Keyword.get(opts, :quick, false), do: :quick, else: :full
    # Quick runs never overwrite the committed figures of a full run.
    subdir = if mode == :quick, do: "bench/results/quick", else: "bench/results"
    results_dir = Path.join(Path.dirname(Mix.Project.project_file()), subdir)

    backends =
      case Keyword.get(opts, :only) do
        nil -> Implementations.backends()
        "etf" -> [:etf]
        "json" -> [:json]
        "commits" -> :commits
        other -> Mix.raise("--only must be etf, json or commits, got: #{other}")
      end

    case backends do
      :commits -> Commits.run_alone(%{mode: mode, results_dir: results_dir})
      _ -> Runner.run(%{mode: mode, backends: backends, results_dir: results_dir})
    end
    |> IO.write()
  end
end
