defmodule BaileysEx.Auth.NIF.Tools.CLI do
  @moduledoc false
  # What the three Mix tasks share: options, `--help`, loading the library.

  @spec parse!([String.t()], keyword(), module()) :: {keyword(), [String.t()]}
  def parse!(args, switches, task) do
    case OptionParser.parse(args, strict: [{:help, :boolean} | switches], aliases: [h: :help]) do
      {opts, rest, []} ->
        if opts[:help] do
          Mix.shell().info(Mix.Task.moduledoc(task) || "")
          exit({:shutdown, 0})
        end

        {opts, rest}

      {_opts, _rest, invalid} ->
        Mix.raise("invalid options: #{inspect(invalid)} (see --help)")
    end
  end

  @doc "Loads the project's code (the NIF included) without starting apps."
  @spec start() :: :ok
  def start do
    Mix.Task.run("app.config")
    :ok
  end

  @spec backend_opt(keyword(), atom()) :: keyword()
  def backend_opt(opts, key \\ :backend) do
    case Keyword.fetch(opts, key) do
      :error -> []
      {:ok, "etf"} -> [{backend_key(key), :etf}]
      {:ok, "json"} -> [{backend_key(key), :json}]
      {:ok, other} -> Mix.raise("--#{key} must be etf or json, not #{inspect(other)}")
    end
  end

  defp backend_key(:backend), do: :backend
  defp backend_key(:to), do: :to
end
