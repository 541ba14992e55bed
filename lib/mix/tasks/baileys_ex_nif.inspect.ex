defmodule Mix.Tasks.BaileysExNif.Inspect do
  @shortdoc "Shows what an auth directory holds (read-only)"
  @moduledoc """
  Shows what an auth directory of the NIF drop-ins holds, without writing
  into it:

      mix baileys_ex_nif.inspect DIR [--backend etf|json]
      mix baileys_ex_nif.inspect DIR TYPE [--backend etf|json]
      mix baileys_ex_nif.inspect DIR TYPE ID [--secrets] [--backend etf|json]
      mix baileys_ex_nif.inspect DIR creds [--secrets]

  With DIR only: key files and bytes per type, the oldest and newest files,
  and a creds summary (registered, me.id, platform, next pre-key id). With a
  TYPE (`session`, `pre-key`, ...): its ids, files and sizes. With a TYPE and
  an ID, or `creds`: the value as it loads, printed with `inspect`; private
  key material is masked unless `--secrets`.
  The same from code: `BaileysEx.Auth.NIF.Tools.inspect_dir/2`,
  `inspect_type/3` and `inspect_key/4`.
  """

  use Mix.Task

  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.{CLI, Layout, Report}

  @impl Mix.Task
  def run(args) do
    {opts, rest} = CLI.parse!(args, [backend: :string, secrets: :boolean], __MODULE__)
    tool_opts = CLI.backend_opt(opts) ++ [secrets: Keyword.get(opts, :secrets, false)]

    case rest do
      [dir] ->
        CLI.start()
        dir |> Tools.inspect_dir(tool_opts) |> ok!(dir) |> Report.inspect_dir() |> info()

      [dir, "creds"] ->
        CLI.start()
        dir |> Tools.inspect_key(:creds, nil, tool_opts) |> ok!(dir) |> value()

      [dir, type] ->
        CLI.start()

        for entry <- dir |> Tools.inspect_type(type!(type), tool_opts) |> ok!(dir) do
          info("#{inspect(entry.id)}  #{entry.file}  #{entry.bytes} bytes")
        end

      [dir, type, id] ->
        CLI.start()
        dir |> Tools.inspect_key(type!(type), id, tool_opts) |> ok!(dir) |> value()

      _ ->
        Mix.raise("usage: mix baileys_ex_nif.inspect DIR [TYPE [ID]] [--secrets] (see --help)")
    end
  end

  # Only the known key types: a type name never becomes a new atom.
  defp type!(name) do
    Enum.find(Layout.types(), &(Atom.to_string(&1) == name)) ||
      Mix.raise(
        "unknown key type #{inspect(name)}; one of: creds, " <>
          Enum.map_join(Layout.types(), ", ", &Atom.to_string/1)
      )
  end

  defp ok!({:ok, value}, _dir), do: value
  defp ok!({:error, reason}, dir), do: Mix.raise("inspect #{dir}: #{inspect(reason)}")

  defp value(term), do: info(inspect(term, pretty: true, limit: :infinity, printable_limit: 4096))
  defp info(text), do: Mix.shell().info(text)
end
