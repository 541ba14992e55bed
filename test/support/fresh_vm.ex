defmodule BaileysEx.Auth.NIF.Test.FreshVM do
  @moduledoc """
  Builds what a fresh VM needs to load only this application's own code:
  a copy of its ebin holding just the modules compiled from `lib/` (no
  stand-ins, no test support), laid out as `<app>/ebin` next to a link to the
  real `priv/`, so the NIF library is found as usual; and runs a script in
  such a VM.
  """

  import ExUnit.Assertions

  @app :baileys_ex_nif_persistence

  @doc "Creates the lib-only ebin under `tmp_dir` and returns its path."
  @spec lib_only_ebin(Path.t()) :: Path.t()
  def lib_only_ebin(tmp_dir) when is_binary(tmp_dir) do
    source_ebin = @app |> :code.lib_dir() |> to_string() |> Path.join("ebin")
    lib_root = Path.join(File.cwd!(), "lib")
    app_dir = Path.join([tmp_dir, "fresh_vm", Atom.to_string(@app)])
    ebin = Path.join(app_dir, "ebin")
    File.mkdir_p!(ebin)

    for name <- File.ls!(source_ebin) do
      path = Path.join(source_ebin, name)

      keep? =
        String.ends_with?(name, ".app") or
          (String.ends_with?(name, ".beam") and compiled_from?(path, lib_root))

      if keep?, do: File.cp!(path, Path.join(ebin, name))
    end

    priv = @app |> :code.priv_dir() |> to_string()
    File.ln_s!(priv, Path.join(app_dir, "priv"))
    ebin
  end

  @doc """
  Creates the lib-only ebin under `tmp_dir`, asserts that it holds `module`
  and not BaileysEx's own `BaileysEx.Auth.State`, and returns its path.
  """
  @spec lib_only_ebin(Path.t(), module()) :: Path.t()
  def lib_only_ebin(tmp_dir, module) when is_binary(tmp_dir) and is_atom(module) do
    ebin = lib_only_ebin(tmp_dir)
    assert File.exists?(Path.join(ebin, "#{module}.beam"))
    refute File.exists?(Path.join(ebin, "Elixir.BaileysEx.Auth.State.beam"))
    ebin
  end

  @doc """
  Runs `script` with `args` in a new `elixir` that sees `ebin` and no
  inherited code paths or emulator flags, in `tmp_dir`; asserts that it
  exits with status 0 and returns its output and the output's lines.
  """
  @spec run!(Path.t(), Path.t(), String.t(), [String.t()]) :: {String.t(), [String.t()]}
  def run!(tmp_dir, ebin, script, args) when is_binary(script) and is_list(args) do
    {output, status} =
      System.cmd(
        System.find_executable("elixir"),
        ["-pa", ebin, "-e", script | args],
        cd: tmp_dir,
        stderr_to_stdout: true,
        env: [{"ERL_LIBS", nil}, {"ERL_AFLAGS", nil}, {"ERL_ZFLAGS", nil}]
      )

    assert status == 0, output
    {output, String.split(output, "\n", trim: true)}
  end

  defp compiled_from?(beam_path, lib_root) do
    {:ok, {_module, [compile_info: info]}} =
      :beam_lib.chunks(String.to_charlist(beam_path), [:compile_info])

    source = info |> Keyword.get(:source, ~c"") |> to_string() |> Path.expand()
    String.starts_with?(source, lib_root <> "/")
  end
end
