defmodule BaileysEx.Auth.NIF.Test.BaileysJSCase do
  @moduledoc """
  The case template of the tests that run the real Baileys JS package
  (`BaileysEx.Auth.NIF.Test.BaileysJS`): tagged `:baileys_js`, skipped with
  the reason printed when node (or the packages and npm) is missing, never
  silently. Once per module it installs the packages and builds a device
  folder through Baileys' own code; the context holds `out` (the scratch
  directory), `auth` (the folder), `peers` (the peers' state), `summary`
  (what `generate.mjs` reported), `dump` (the folder as Baileys reads it)
  and `files` (the folder's file names and bytes).
  """

  use ExUnit.CaseTemplate

  alias BaileysEx.Auth.NIF.Test.BaileysJS

  using do
    quote do
      @moduletag :baileys_js
      @moduletag timeout: 900_000

      if reason = BaileysJS.skip_reason() do
        IO.puts("\n#{inspect(__MODULE__)} skipped: #{reason}")
        @moduletag skip: reason
      end
    end
  end

  setup_all do
    if BaileysJS.skip_reason() do
      :ok
    else
      BaileysJS.install!()
      out = Path.join(System.tmp_dir!(), "baileys_js_#{System.unique_integer([:positive])}")
      on_exit(fn -> File.rm_rf!(out) end)
      summary = BaileysJS.generate!(out)
      auth = Path.join(out, "auth")

      %{
        out: out,
        auth: auth,
        peers: Path.join(out, "peers.json"),
        summary: summary,
        dump: BaileysJS.dump!(auth),
        files: files(auth)
      }
    end
  end

  @doc "The names and bytes of the files in `dir`."
  @spec files(Path.t()) :: %{String.t() => binary()}
  def files(dir) when is_binary(dir) do
    dir |> File.ls!() |> Map.new(&{&1, File.read!(Path.join(dir, &1))})
  end
end
