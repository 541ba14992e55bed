defmodule BaileysEx.Auth.NIF.Test.BaileysJSCase do
  @moduledoc """
  The case template of the tests that run a real Baileys JS package
  (`BaileysEx.Auth.NIF.Test.BaileysJS`; `baileys: 7` picks the 7.x harness,
  6.x is the default): tagged `:baileys_js`, skipped with the reason printed
  when node (or the packages and npm) is missing, never silently. Once per
  module it installs the packages and builds a device folder through that
  Baileys' own code; the context holds `out` (the scratch directory), `auth`
  (the folder), `summary` (what `generate.mjs` reported), `dump` (the folder
  as Baileys reads it), `files` (the folder's file names and bytes) and, for
  6.x, `peers` (the peers' state).
  """

  use ExUnit.CaseTemplate

  alias BaileysEx.Auth.NIF.Test.BaileysJS

  using opts do
    version = Keyword.get(opts, :baileys, 6)

    quote do
      @moduletag :baileys_js
      @moduletag timeout: 900_000

      if reason = BaileysJS.skip_reason(unquote(version)) do
        IO.puts("\n#{inspect(__MODULE__)} skipped: #{reason}")
        @moduletag skip: reason
      end

      setup_all do
        BaileysEx.Auth.NIF.Test.BaileysJSCase.prepare(unquote(version))
      end
    end
  end

  @doc false
  @spec prepare(BaileysJS.version()) :: :ok | map()
  def prepare(version) do
    if BaileysJS.skip_reason(version) do
      :ok
    else
      BaileysJS.install!(version)
      out = Path.join(System.tmp_dir!(), "baileys_js_#{System.unique_integer([:positive])}")
      ExUnit.Callbacks.on_exit(fn -> File.rm_rf!(out) end)
      File.mkdir_p!(out)
      summary = BaileysJS.generate!(out, version)
      auth = Path.join(out, "auth")

      context = %{
        out: out,
        auth: auth,
        summary: summary,
        dump: BaileysJS.dump!(auth, version),
        files: files(auth)
      }

      if version == 6, do: Map.put(context, :peers, Path.join(out, "peers.json")), else: context
    end
  end

  @doc "The names and bytes of the files in `dir`."
  @spec files(Path.t()) :: %{String.t() => binary()}
  def files(dir) when is_binary(dir) do
    BaileysEx.Auth.NIF.Test.DirSnapshot.take(dir)
  end
end
