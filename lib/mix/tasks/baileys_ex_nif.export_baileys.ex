defmodule Mix.Tasks.BaileysExNif.ExportBaileys do
  @shortdoc "Exports a BaileysEx directory to a Baileys JS auth folder"
  @moduledoc """
  Exports a BaileysEx auth directory (ETF or JSON, detected) to a folder
  Baileys JS (Node.js) loads with `useMultiFileAuthState`:

      mix baileys_ex_nif.export_baileys SRC DST [--baileys 6|7] [--force]

  DST gets `creds.json` and one `<type>-<id>.json` per key, as Baileys
  writes them: `--baileys 6` (the default; npm's `latest`) or `--baileys 7`
  (Baileys 7 stores sender keys differently, and 6.x cannot read those).
  DST is built in a hidden directory next to it, every file is read back
  and imported again, then it is renamed into place; SRC is only
  read, and refused if `mix baileys_ex_nif.verify` finds it damaged. A
  non-empty DST is refused unless `--force`.

  Prints the keys per type, what Baileys JS has no field for, and any value
  that did not read back equal. The field mapping is in docs/BAILEYS_JS.md.
  The same from code: `BaileysEx.Auth.NIF.Tools.export_baileys/3`.
  """

  use Mix.Task

  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.{CLI, Report}

  @impl Mix.Task
  def run(args) do
    {opts, rest} = CLI.parse!(args, [force: :boolean, baileys: :integer], __MODULE__)

    case rest do
      [source, target] ->
        CLI.start()

        export_opts = [force: Keyword.get(opts, :force, false), baileys: version(opts)]

        case Tools.export_baileys(source, target, export_opts) do
          {:ok, result} ->
            Mix.shell().info(Report.baileys_js(:export, result))

          {:error, {:source_damaged, report}} ->
            Mix.shell().error(Report.verify(report))
            Mix.raise("#{source} is damaged; nothing was written")

          {:error, reason} ->
            Mix.raise("export #{source} -> #{target}: #{inspect(reason)}; nothing was written")
        end

      _ ->
        Mix.raise(
          "usage: mix baileys_ex_nif.export_baileys SRC DST [--baileys 6|7] [--force] (see --help)"
        )
    end
  end

  defp version(opts) do
    case Keyword.get(opts, :baileys, 6) do
      version when version in [6, 7] -> version
      other -> Mix.raise("--baileys must be 6 or 7, not #{other}")
    end
  end
end
