defmodule Mix.Tasks.BaileysExNif.ImportBaileys do
  @shortdoc "Imports a Baileys JS auth folder into a BaileysEx directory"
  @moduledoc """
  Imports a Baileys JS (Node.js) `useMultiFileAuthState` folder:

      mix baileys_ex_nif.import_baileys SRC DST [--to etf|json] [--force]

  SRC holds `creds.json` and one `<type>-<id>.json` per key as Baileys
  writes them. DST becomes a BaileysEx directory (`etf`, the default:
  `BaileysEx.Auth.NIF.NativeFilePersistence`; `json`:
  `BaileysEx.Auth.NIF.FilePersistence`) that BaileysEx loads as the same
  device. DST is built in a hidden directory next to it, verified, then
  renamed into place; SRC is only read. A non-empty DST is refused unless
  `--force`.

  Prints the keys per type, every field or file that has no place in
  BaileysEx (and why), and the types the folder has no file of. The field
  mapping is in docs/BAILEYS_JS.md. The same from code:
  `BaileysEx.Auth.NIF.Tools.import_baileys/3`.
  """

  use Mix.Task

  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.{CLI, Report}

  @impl Mix.Task
  def run(args) do
    {opts, rest} = CLI.parse!(args, [to: :string, force: :boolean], __MODULE__)
    to = Keyword.get(CLI.backend_opt(opts, :to), :to, :etf)

    case rest do
      [source, target] ->
        CLI.start()

        case Tools.import_baileys(source, target, to: to, force: Keyword.get(opts, :force, false)) do
          {:ok, result} ->
            Mix.shell().info(Report.baileys_js(:import, result))

          {:error, reason} ->
            Mix.raise("import #{source} -> #{target}: #{inspect(reason)}; nothing was written")
        end

      _ ->
        Mix.raise(
          "usage: mix baileys_ex_nif.import_baileys SRC DST [--to etf|json] [--force] (see --help)"
        )
    end
  end
end
