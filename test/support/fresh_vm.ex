defmodule BaileysEx.Auth.NIF.Test.FreshVM do
  @moduledoc """
  Builds what a fresh VM needs to load only this application's own code:
  a copy of its ebin holding just the modules compiled from `lib/` (no
  stand-ins, no test support), laid out as `<app>/ebin` next to a link to the
  real `priv/`, so the NIF library is found as usual.
  """

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

  defp compiled_from?(beam_path, lib_root) do
    {:ok, {_module, [compile_info: info]}} =
      :beam_lib.chunks(String.to_charlist(beam_path), [:compile_info])

    source = info |> Keyword.get(:source, ~c"") |> to_string() |> Path.expand()
    String.starts_with?(source, lib_root <> "/")
  end
end
