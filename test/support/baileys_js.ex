defmodule BaileysEx.Auth.NIF.Test.BaileysJS do
  @moduledoc """
  Runs the Node harnesses around the real Baileys JS packages, each pinned in
  its own `package-lock.json`: `test/baileys_js` (Baileys 6.x, version `6`,
  the default) and `test/baileys_js7` (Baileys 7.x, version `7`). The 6.x one
  makes auth folders through Baileys' own code and checks that the peers of
  a generated folder can still talk to the device; both dump a folder as
  their Baileys reads it (the canonical JSON documented at the top of
  `test/baileys_js/dump_folder.mjs`).

  Every script runs offline under `timeout` (when the system has it), with
  absolute paths; its stderr is kept in a scratch file and shown on failure.
  """

  alias BaileysEx.Auth.NIF.Baseline.JSONCodec

  @dirs %{6 => Path.expand("../baileys_js", __DIR__), 7 => Path.expand("../baileys_js7", __DIR__)}
  @npm_ci ["ci", "--git=/bin/false", "--ignore-scripts", "--no-audit", "--no-fund"]
  # Watchdogs for a hang, not expectations of speed.
  @script_timeout_s 300
  @install_timeout_s 900

  @typedoc "A Baileys JS major version with a harness here."
  @type version() :: 6 | 7

  @doc "Directory of the Node harness of Baileys `version`."
  @spec dir(version()) :: Path.t()
  def dir(version \\ 6), do: Map.fetch!(@dirs, version)

  @doc "True when the harness can run (node present, and its packages installed or installable)."
  @spec available?(version()) :: boolean()
  def available?(version \\ 6), do: skip_reason(version) == nil

  @doc """
  Why the harness of Baileys `version` cannot run here, or nil when it can:
  node missing, or its packages missing with no npm to install them.
  """
  @spec skip_reason(version()) :: String.t() | nil
  def skip_reason(version \\ 6) do
    rel = Path.relative_to(dir(version), Path.expand("../..", __DIR__))

    node = System.find_executable("node")

    cond do
      node == nil ->
        "node not found on PATH: the Baileys JS harness (#{rel}) needs Node.js 20+ and npm"

      (major = node_major(node)) < 20 ->
        "node on PATH is version #{major}: the Baileys JS harness (#{rel}) needs Node.js 20+"

      not installed?(version) and System.find_executable("npm") == nil ->
        "#{rel}/node_modules is missing and npm is not on PATH to install it " <>
          "(run `npm ci --git=/bin/false --ignore-scripts` in #{rel})"

      true ->
        nil
    end
  end

  # The major version `node --version` prints (`v20.20.2`), 0 when unreadable.
  defp node_major(node) do
    case System.cmd(node, ["--version"], stderr_to_stdout: true) do
      {"v" <> version, 0} -> version |> Integer.parse() |> elem_or_zero()
      _other -> 0
    end
  rescue
    _error -> 0
  end

  defp elem_or_zero({major, _rest}), do: major
  defp elem_or_zero(:error), do: 0

  @doc "Installs the pinned packages with `npm ci` unless `node_modules` already holds Baileys."
  @spec install!(version()) :: :ok
  def install!(version \\ 6) do
    if installed?(version) do
      :ok
    else
      npm = System.find_executable("npm") || raise "npm not found on PATH"
      run!(npm, @npm_ci, @install_timeout_s, "npm ci in #{dir(version)}", dir(version))
      installed?(version) || raise "npm ci finished but node_modules/baileys is still missing"
      :ok
    end
  end

  @doc """
  Builds `out_dir/auth` through Baileys `version`'s own code (see each
  harness's `generate.mjs`; 6.x also writes `out_dir/peers.json`); returns
  its summary.
  """
  @spec generate!(Path.t(), version()) :: map()
  def generate!(out_dir, version \\ 6) when is_binary(out_dir) do
    node!(version, "generate.mjs", [Path.expand(out_dir)])
  end

  @doc """
  The canonical JSON of `auth_dir` as Baileys `version` reads it, decoded
  (string keys).
  """
  @spec dump!(Path.t(), version()) :: map()
  def dump!(auth_dir, version \\ 6) when is_binary(auth_dir) do
    node!(version, "dump.mjs", [Path.expand(auth_dir)])
  end

  @doc """
  Has the peers in `peers_json` and a new contact exchange new messages with the
  device loaded from `auth_dir` (left untouched); returns the script's report,
  `%{"ok" => true, ...}`, or raises with the failing step.
  """
  @spec peer_decrypt!(Path.t(), Path.t()) :: map()
  def peer_decrypt!(auth_dir, peers_json) when is_binary(auth_dir) and is_binary(peers_json) do
    node!(6, "peer_decrypt.mjs", [Path.expand(auth_dir), Path.expand(peers_json)])
  end

  defp installed?(version),
    do: File.regular?(Path.join([dir(version), "node_modules", "baileys", "package.json"]))

  defp node!(version, script, args) do
    node = System.find_executable("node") || raise "node not found on PATH"
    path = Path.join(dir(version), script)
    output = run!(node, [path | args], @script_timeout_s, script, dir(version))

    case JSONCodec.decode(output) do
      {:ok, %{} = map} ->
        map

      other ->
        raise "#{script} printed no JSON object (#{inspect(other)}): #{String.slice(output, 0, 500)}"
    end
  end

  # stdout is the result; stderr (libsignal's chatter, error traces) goes to a
  # scratch file so it cannot mix into the JSON.
  defp run!(exe, args, timeout_s, what, cd) do
    err_file =
      Path.join(System.tmp_dir!(), "baileys_js_#{System.unique_integer([:positive])}.err")

    bounded =
      case System.find_executable("timeout") do
        nil -> [exe | args]
        timeout -> [timeout, "--kill-after=10", Integer.to_string(timeout_s), exe | args]
      end

    script = ~s(err="$1"; shift; exec "$@" 2>"$err")

    try do
      case System.cmd("sh", ["-c", script, "sh", err_file | bounded], cd: cd) do
        {out, 0} ->
          out

        {out, status} ->
          err = File.read(err_file) |> elem_or("")

          raise "#{what} exited with status #{status}" <>
                  if(status == 124, do: " (timed out after #{timeout_s} s)", else: "") <>
                  "\n--- stderr ---\n#{err}\n--- stdout ---\n#{String.slice(out, 0, 2000)}"
      end
    after
      File.rm(err_file)
    end
  end

  defp elem_or({:ok, text}, _default), do: text
  defp elem_or(_, default), do: default
end
