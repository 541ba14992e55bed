defmodule BaileysEx.Auth.NIF.Test.BaileysJS do
  @moduledoc """
  Runs the Node harness in `test/baileys_js` (the real Baileys JS package,
  pinned in its `package-lock.json`): makes auth folders through Baileys' own
  code, dumps a folder as Baileys JS reads it (the canonical JSON documented
  at the top of `dump.mjs`), and checks that the peers of a generated folder
  can still talk to the device.

  Every script runs offline under `timeout` (when the system has it), with
  absolute paths; its stderr is kept in a scratch file and shown on failure.
  """

  alias BaileysEx.Auth.NIF.Baseline.JSONCodec

  @dir Path.expand("../baileys_js", __DIR__)
  @npm_ci ["ci", "--git=/bin/false", "--ignore-scripts", "--no-audit", "--no-fund"]
  # Watchdogs for a hang, not expectations of speed.
  @script_timeout_s 300
  @install_timeout_s 900

  @doc "Directory of the Node harness."
  @spec dir() :: Path.t()
  def dir, do: @dir

  @doc "True when the harness can run (node present, and its packages installed or installable)."
  @spec available?() :: boolean()
  def available?, do: skip_reason() == nil

  @doc """
  Why the harness cannot run here, or nil when it can: node missing, or the
  packages missing with no npm to install them.
  """
  @spec skip_reason() :: String.t() | nil
  def skip_reason do
    cond do
      System.find_executable("node") == nil ->
        "node not found on PATH: the Baileys JS harness (test/baileys_js) needs Node.js 20+ and npm"

      not installed?() and System.find_executable("npm") == nil ->
        "test/baileys_js/node_modules is missing and npm is not on PATH to install it " <>
          "(run `npm ci --git=/bin/false --ignore-scripts` in test/baileys_js)"

      true ->
        nil
    end
  end

  @doc "Installs the pinned packages with `npm ci` unless `node_modules` already holds Baileys."
  @spec install!() :: :ok
  def install! do
    if installed?() do
      :ok
    else
      npm = System.find_executable("npm") || raise "npm not found on PATH"
      run!(npm, @npm_ci, @install_timeout_s, "npm ci in test/baileys_js")
      installed?() || raise "npm ci finished but node_modules/baileys is still missing"
      :ok
    end
  end

  @doc "Builds `out_dir/auth` and `out_dir/peers.json` through Baileys (see `generate.mjs`); returns its summary."
  @spec generate!(Path.t()) :: map()
  def generate!(out_dir) when is_binary(out_dir) do
    node!("generate.mjs", [Path.expand(out_dir)])
  end

  @doc "The canonical JSON of `auth_dir` as Baileys JS reads it, decoded (string keys)."
  @spec dump!(Path.t()) :: map()
  def dump!(auth_dir) when is_binary(auth_dir) do
    node!("dump.mjs", [Path.expand(auth_dir)])
  end

  @doc """
  Has the peers in `peers_json` and a new contact exchange new messages with the
  device loaded from `auth_dir` (left untouched); returns the script's report,
  `%{"ok" => true, ...}`, or raises with the failing step.
  """
  @spec peer_decrypt!(Path.t(), Path.t()) :: map()
  def peer_decrypt!(auth_dir, peers_json) when is_binary(auth_dir) and is_binary(peers_json) do
    node!("peer_decrypt.mjs", [Path.expand(auth_dir), Path.expand(peers_json)])
  end

  defp installed?, do: File.regular?(Path.join([@dir, "node_modules", "baileys", "package.json"]))

  defp node!(script, args) do
    node = System.find_executable("node") || raise "node not found on PATH"
    output = run!(node, [Path.join(@dir, script) | args], @script_timeout_s, script)

    case JSONCodec.decode(output) do
      {:ok, %{} = map} ->
        map

      other ->
        raise "#{script} printed no JSON object (#{inspect(other)}): #{String.slice(output, 0, 500)}"
    end
  end

  # stdout is the result; stderr (libsignal's chatter, error traces) goes to a
  # scratch file so it cannot mix into the JSON.
  defp run!(exe, args, timeout_s, what) do
    err_file =
      Path.join(System.tmp_dir!(), "baileys_js_#{System.unique_integer([:positive])}.err")

    bounded =
      case System.find_executable("timeout") do
        nil -> [exe | args]
        timeout -> [timeout, "--kill-after=10", Integer.to_string(timeout_s), exe | args]
      end

    script = ~s(err="$1"; shift; exec "$@" 2>"$err")

    try do
      case System.cmd("sh", ["-c", script, "sh", err_file | bounded], cd: @dir) do
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
