defmodule Mix.Tasks.BaileysExNif.ExportBaileys do
  @shortdoc "Exports a BaileysEx directory to a Baileys JS auth folder"
  @moduledoc """
  Exports a BaileysEx auth directory (ETF or JSON, detected) to a folder
  Baileys JS (Node.js) loads with `useMultiFileAuthState`:

      mix baileys_ex_nif.export_baileys SRC DST [--force]

  DST gets `creds.json` and one `<type>-<id>.json` per key, as Baileys
  writes them. It is built in a hidden directory next to it, every file is
  read back and imported again, then it is renamed into place; SRC is only
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
    {opts, rest} = CLI.parse!(args, [force: :boolean], __MODULE__)

    case rest do
      [source, target] ->
        CLI.start()

        case Tools.export_baileys(source, target, force: Keyword.get(opts, :force, false)) do
          {:ok, result} ->
            Mix.shell().info(Report.baileys_js(:export, result))

          {:error, {:source_damaged, report}} ->
            Mix.shell().error(Report.verify(report))
            Mix.raise("#{source} is damaged; nothing was written")

          {:error, reason} ->
            Mix.raise("export #{source} -> #{target}: #{inspect(reason)}; nothing was written")
        end

      _ ->
        Mix.raise("usage: mix baileys_ex_nif.export_baileys SRC DST [--force] (see --help)")
    end
  end
end
