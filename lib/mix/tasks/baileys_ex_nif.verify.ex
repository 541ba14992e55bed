defmodule Mix.Tasks.BaileysExNif.Verify do
  @shortdoc "Checks an auth directory of the NIF drop-ins (read-only)"
  @moduledoc """
  Checks every file of an auth directory written by
  `BaileysEx.Auth.NIF.NativeFilePersistence` (ETF) or
  `BaileysEx.Auth.NIF.FilePersistence` (JSON), or by the BaileysEx
  originals, without writing into it.

      mix baileys_ex_nif.verify DIR [--backend etf|json]

  Every creds and key file is decoded; the manifest is checked against the
  files (indexed but missing, present but not indexed, ids whose file name
  is lossy); orphan temporary files, a commit left half done, unknown,
  unreadable and non-regular entries are reported. The backend is detected
  when not given.

  Prints one line per problem naming the file, then a summary line. Exits
  with status 1 when data is damaged (ERROR lines), 0 otherwise (WARNING and
  NOTE lines need no repair). The same check from code:
  `BaileysEx.Auth.NIF.Tools.verify/2`.
  """

  use Mix.Task

  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.CLI
  alias BaileysEx.Auth.NIF.Tools.Report

  @impl Mix.Task
  def run(args) do
    {opts, rest} = CLI.parse!(args, [backend: :string], __MODULE__)

    case rest do
      [dir] ->
        CLI.start()

        case Tools.verify(dir, CLI.backend_opt(opts)) do
          {:ok, report} ->
            Mix.shell().info(Report.verify(report))
            if report.status == :damaged, do: exit({:shutdown, 1})

          {:error, reason} ->
            Mix.raise("verify #{dir}: #{inspect(reason)}")
        end

      _ ->
        Mix.raise("usage: mix baileys_ex_nif.verify DIR [--backend etf|json] (see --help)")
    end
  end
end
