defmodule Mix.Tasks.BaileysExNif.Migrate do
  @shortdoc "Converts an auth directory between ETF and JSON"
  @moduledoc """
  Converts an auth directory to the other format of the NIF drop-ins:

      mix baileys_ex_nif.migrate SRC DST --to etf|json [--force]

  The format of SRC is detected. The creds and every key are decoded from
  SRC and saved into DST through the target drop-in
  (`BaileysEx.Auth.NIF.NativeFilePersistence` for `etf`,
  `BaileysEx.Auth.NIF.FilePersistence` for `json`), then loaded back and
  compared. DST is built in a hidden directory next to it, verified, then
  renamed into place, so an interrupted migration leaves no half DST.

  SRC is only read, and refused if `mix baileys_ex_nif.verify` finds it
  damaged. A non-empty DST is refused unless `--force` (it is then replaced
  as a whole, once the new one is complete).

  Prints progress on large directories, then what was converted (keys per
  type) and every value the target format cannot hold exactly, with what it
  loads back as (JSON turns some atom keys into strings, for example).
  The same from code: `BaileysEx.Auth.NIF.Tools.migrate/3`.
  """

  use Mix.Task

  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.{CLI, Report}

  # A line every few seconds when not on a terminal.
  @interval_ms 3000

  @impl Mix.Task
  def run(args) do
    {opts, rest} = CLI.parse!(args, [to: :string, force: :boolean], __MODULE__)

    case {rest, CLI.backend_opt(opts, :to)} do
      {[source, target], [to: to]} ->
        CLI.start()
        opts = [to: to, force: Keyword.get(opts, :force, false), progress: progress()]

        case Tools.migrate(source, target, opts) do
          {:ok, result} ->
            Mix.shell().info(Report.migrate(result))

          {:error, {:source_damaged, report}} ->
            Mix.shell().error(Report.verify(report))
            Mix.raise("#{source} is damaged; nothing was written")

          {:error, reason} ->
            Mix.raise("migrate #{source} -> #{target}: #{inspect(reason)}; nothing was written")
        end

      _ ->
        Mix.raise(
          "usage: mix baileys_ex_nif.migrate SRC DST --to etf|json [--force] (see --help)"
        )
    end
  end

  defp progress do
    tty? = IO.ANSI.enabled?()
    started = System.monotonic_time(:millisecond)
    Process.put({__MODULE__, :last}, started)

    fn done, total ->
      now = System.monotonic_time(:millisecond)
      last = Process.get({__MODULE__, :last})

      cond do
        tty? and (now - last >= 100 or done == total) ->
          Process.put({__MODULE__, :last}, now)
          width = 30
          filled = if total == 0, do: width, else: div(done * width, total)
          bar = String.duplicate("#", filled) <> String.duplicate(".", width - filled)
          IO.write(:stderr, "\r[#{bar}] #{done}/#{total} keys")
          if done == total, do: IO.write(:stderr, "\n")

        not tty? and now - last >= @interval_ms ->
          Process.put({__MODULE__, :last}, now)
          IO.puts(:stderr, "#{done}/#{total} keys converted (#{div(now - started, 1000)} s)")

        true ->
          :ok
      end
    end
  end
end
