defmodule Mix.Tasks.Compile.BaileysExNif do
  @shortdoc "Builds the Rust NIF with cargo and copies it into priv/native"
  @moduledoc """
  Builds the `baileys_ex_nif` crate with `cargo build --release` when its
  sources are newer than the library in `priv/native/`, then copies the
  library there. A cargo failure fails the Mix build and shows cargo's own
  output.

  Set `BAILEYS_EX_NIF_CARGO` to use another cargo binary.
  """
  use Mix.Task.Compiler

  @crate "baileys_ex_nif"

  @impl Mix.Task.Compiler
  def run(_args) do
    root = File.cwd!()
    target = Path.join([root, "priv", "native", @crate <> ".so"])

    if stale?(root, target) do
      build(root, target)
    else
      {:noop, []}
    end
  end

  @impl Mix.Task.Compiler
  def clean do
    File.rm(Path.join([File.cwd!(), "priv", "native", @crate <> ".so"]))
    :ok
  end

  defp stale?(root, target) do
    case File.stat(target, time: :posix) do
      {:ok, %{mtime: built}} -> Enum.any?(sources(root), &newer?(&1, built))
      {:error, _} -> true
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
      args = ["build", "--release", "--locked", "-p", @crate, "--message-format=human"]

      case System.cmd(cargo, args, cd: root, stderr_to_stdout: true, into: "") do
        {_output, 0} -> install(root, target)
        {output, status} -> fail("cargo build failed (exit #{status}):\n" <> output)
      end
    end
  end

  defp install(root, target) do
    built = Path.join([root, "target", "release", "lib" <> @crate <> ".so"])
    File.mkdir_p!(Path.dirname(target))
    tmp = target <> ".tmp"
    File.cp!(built, tmp)
    # A rename leaves a VM that has the old library mapped untouched.
    File.rename!(tmp, target)
    {:ok, []}
  end

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
