defmodule Mix.Tasks.Compile.BaileysExNif do
  @shortdoc "Builds the Rust NIF with cargo and installs it in priv/native"
  @moduledoc """
  Builds the `baileys_ex_nif` crate with `cargo build --release` and installs
  the library as `priv/native/baileys_ex_nif.so`, then links (or copies) `priv/`
  into the application's build directory so the very first Mix command that
  compiles the project can load it.

  Cargo runs when the installed library is missing, when a crate source is
  newer than it, when this build directory has not seen it yet (a fresh
  `_build`, `mix deps.compile --force`) or with `--force`. Cargo decides what
  to rebuild; the library's path comes from cargo's own JSON messages, so
  `CARGO_TARGET_DIR` and `build.target-dir` are honoured and a stale library
  elsewhere is never installed.

  Set `BAILEYS_EX_NIF_CARGO` to use another cargo binary.
  """
  use Mix.Task.Compiler

  @crate "baileys_ex_nif"

  @impl Mix.Task.Compiler
  def run(args) do
    {opts, _rest, _invalid} = OptionParser.parse(args, switches: [force: :boolean])
    root = File.cwd!()
    target = Path.join([root, "priv", "native", @crate <> ".so"])

    result =
      if opts[:force] || stale?(root, target) do
        build(root, target)
      else
        {:noop, []}
      end

    with {status, diagnostics} when status in [:ok, :noop] <- result do
      link_priv()
      File.mkdir_p!(Path.dirname(build_stamp()))
      File.touch!(build_stamp())
      {status, diagnostics}
    end
  end

  @impl Mix.Task.Compiler
  def manifests, do: [build_stamp()]

  @impl Mix.Task.Compiler
  def clean do
    File.rm(Path.join([File.cwd!(), "priv", "native", @crate <> ".so"]))
    File.rm(build_stamp())
    :ok
  end

  # Mix links `priv/` into the build directory before compilers run; on a
  # fresh clone `priv/` does not exist yet at that moment, so without this the
  # link (and a release's copy of it) would appear only on the next command.
  defp link_priv do
    _ = Mix.Project.build_structure()
    :ok
  end

  # Records that this build directory has a current library; a removed
  # `_build` (or `mix deps.compile --force`) removes it and so reruns cargo.
  defp build_stamp, do: Path.join(Mix.Project.manifest_path(), "compile.baileys_ex_nif")

  defp stale?(root, target) do
    case File.stat(target, time: :posix) do
      {:ok, %{mtime: built}} ->
        not File.exists?(build_stamp()) or Enum.any?(sources(root), &newer?(&1, built))

      {:error, _} ->
        true
    end
  end

  defp sources(root) do
    [Path.join(root, "Cargo.toml"), Path.join(root, "Cargo.lock")] ++
      Path.wildcard(Path.join(root, "native/*/Cargo.toml")) ++
      Path.wildcard(Path.join(root, "native/*/src/**/*.rs"))
  end

  defp newer?(path, built) do
    case File.stat(path, time: :posix) do
      {:ok, %{mtime: mtime}} -> mtime > built
      {:error, _} -> false
    end
  end

  defp build(root, target) do
    cargo = System.get_env("BAILEYS_EX_NIF_CARGO") || System.find_executable("cargo")

    if cargo == nil do
      fail("cargo was not found on PATH: install Rust (cargo >= 1.91) to build the NIF")
    else
      Mix.shell().info("Compiling NIF crate #{@crate} (cargo build --release)")

      # Rendered diagnostics go to stderr, which the terminal shows as cargo
      # prints it; stdout carries one JSON message per line.
      args = ["build", "--release", "--locked", "-p", @crate]
      args = args ++ ["--message-format=json-render-diagnostics"]

      case System.cmd(cargo, args, cd: root, into: "") do
        {output, 0} -> install(output, target)
        {_output, status} -> fail("cargo build failed (exit #{status}); its errors are above")
      end
    end
  end

  defp install(cargo_output, target) do
    case built_library(cargo_output) do
      {:ok, built} ->
        File.mkdir_p!(Path.dirname(target))
        tmp = target <> ".tmp"
        File.cp!(built, tmp)
        # A rename leaves a VM that has the old library mapped untouched.
        File.rename!(tmp, target)
        {:ok, []}

      :error ->
        fail("cargo build succeeded but reported no library for crate #{@crate}")
    end
  end

  # The artifact message of our crate names the files cargo produced, wherever
  # its target directory is. No JSON library is available at this point (the
  # compiler runs before the project's code), so the one field is read here.
  defp built_library(cargo_output) do
    cargo_output
    |> String.split("\n")
    |> Enum.filter(&artifact_of_crate?/1)
    |> Enum.flat_map(&filenames/1)
    |> Enum.find(&shared_library?/1)
    |> case do
      nil -> :error
      path -> {:ok, path}
    end
  end

  defp artifact_of_crate?(line) do
    String.contains?(line, ~s("reason":"compiler-artifact")) and
      String.contains?(line, ~s("name":"#{@crate}"))
  end

  defp filenames(line) do
    case Regex.run(~r/"filenames":\[((?:"(?:[^"\\]|\\.)*",?)*)\]/, line) do
      [_, list] ->
        ~r/"((?:[^"\\]|\\.)*)"/
        |> Regex.scan(list, capture: :all_but_first)
        |> Enum.map(fn [escaped] -> unescape(escaped) end)

      nil ->
        []
    end
  end

  defp unescape(string), do: Regex.replace(~r/\\(.)/, string, "\\1")

  defp shared_library?(path), do: Path.extname(path) in [".so", ".dylib"]

  defp fail(message) do
    Mix.shell().error(message)

    diagnostic = %Mix.Task.Compiler.Diagnostic{
      compiler_name: "baileys_ex_nif",
      file: "native/#{@crate}",
      message: message,
      position: nil,
      severity: :error
    }

    {:error, [diagnostic]}
  end
end
