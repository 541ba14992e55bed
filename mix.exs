# The cargo compiler is a Mix task that must exist before `lib/` is compiled,
# so it lives outside `lib/` and is loaded here.
Code.require_file("mix/tasks/compile.baileys_ex_nif.ex", __DIR__)

defmodule BaileysExNifPersistence.MixProject do
  use Mix.Project

  def project do
    [
      app: :baileys_ex_nif_persistence,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      compilers: [:baileys_ex_nif | Mix.compilers()],
      elixirc_paths: elixirc_paths(Mix.env()),
      deps: [],
      # A file that `make consumer` copies into a throwaway app, not a test.
      test_ignore_filters: [&String.starts_with?(&1, "test/consumer/")],
      test_coverage: [ignore_modules: [~r/^BaileysEx\.Auth\.NIF\.Baseline/]]
    ]
  end

  def application do
    [extra_applications: [:logger, :crypto]]
  end

  # Stand-ins for BaileysEx structs and the pure-Elixir baselines are for tests,
  # the demo and the benchmark only; they never ship.
  defp elixirc_paths(:bench), do: ["lib", "test/support", "bench/lib"]
  defp elixirc_paths(env) when env in [:test, :dev], do: ["lib", "test/support"]
  defp elixirc_paths(_env), do: ["lib"]
end
