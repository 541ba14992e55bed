defmodule BaileysEx.Auth.NIF.Bench.Workspace do
  @moduledoc """
  Scratch directories of one benchmark run, under `bench/results/tmp/`
  (ignored by git) so that they sit on the same disk as the project rather
  than on a RAM-backed temp directory. Every implementation gets a fresh
  directory per scenario.
  """

  @typedoc "The root of one run's scratch directories."
  @type t :: %{root: Path.t()}

  @doc "Creates a new, empty run directory under `results_dir/tmp`."
  @spec new(Path.t()) :: t()
  def new(results_dir) do
    root = Path.join([results_dir, "tmp", "run-#{System.unique_integer([:positive])}"])
    File.rm_rf!(root)
    File.mkdir_p!(root)
    %{root: root}
  end

  @doc """
  Returns a fresh (not yet existing) directory for `impl_id` in `scenario`;
  the implementation creates it on its first call, as in real use.
  """
  @spec fresh_dir(t(), String.t(), atom()) :: Path.t()
  def fresh_dir(%{root: root}, scenario, impl_id) do
    dir = Path.join([root, "#{scenario}-#{System.unique_integer([:positive])}", "#{impl_id}"])
    File.rm_rf!(dir)
    dir
  end

  @doc "Removes the scratch directories of one scenario (the dirs' parents)."
  @spec discard([Path.t()]) :: :ok
  def discard(dirs) do
    dirs |> Enum.map(&Path.dirname/1) |> Enum.uniq() |> Enum.each(&File.rm_rf!/1)
  end

  @doc "Removes the whole run directory (and `tmp/` when it is left empty)."
  @spec cleanup(t()) :: :ok
  def cleanup(%{root: root}) do
    File.rm_rf!(root)
    _ = File.rmdir(Path.dirname(root))
    :ok
  end
end
