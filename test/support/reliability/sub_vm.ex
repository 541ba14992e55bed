defmodule BaileysEx.Auth.NIF.Test.Reliability.SubVM do
  @moduledoc """
  A second BEAM in its own OS process, running one expression with this
  application's compiled modules (test support included) on its code path.

  Output arrives line by line as port messages to the process that started
  it. A watcher process kills the OS process with SIGKILL if the starter
  exits first (a failed or timed-out test), so no VM outlives its test.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.Privileges

  @app :baileys_ex_nif_persistence

  defstruct [:port, :os_pid, :watcher, :label]

  @type t :: %__MODULE__{port: port(), os_pid: pos_integer(), watcher: pid(), label: term()}

  @doc """
  Starts `elixir -pa <ebin> -e <expr> <args...>`.

  Options: `:erl` (VM flags such as `"+S 1"`), `:as_user` (run through
  `setpriv` as that user, e.g. `"nobody"`), `:nice` (run through `nice -n`
  with that increment), `:cd`, `:env` (extra variables), `:label` (for
  messages).
  """
  @spec start(String.t(), [String.t()], keyword()) :: t()
  def start(expr, args, opts \\ []) do
    elixir = System.find_executable("elixir") || raise "elixir is not on PATH"
    erl = if flags = opts[:erl], do: ["--erl", flags], else: []
    vm_args = erl ++ ["-pa", ebin(), "-e", expr | args]

    {exe, exe_args} =
      case opts[:as_user] do
        nil ->
          {elixir, vm_args}

        user ->
          setpriv = System.find_executable("setpriv") || raise "setpriv is not on PATH"
          {setpriv, Privileges.setpriv_args(user) ++ [elixir | vm_args]}
      end

    {exe, exe_args} =
      case {opts[:nice], System.find_executable("nice")} do
        {increment, nice} when is_integer(increment) and is_binary(nice) ->
          {nice, ["-n", Integer.to_string(increment), exe | exe_args]}

        _ ->
          {exe, exe_args}
      end

    env =
      [{~c"ERL_LIBS", false}, {~c"ERL_AFLAGS", false}, {~c"ERL_ZFLAGS", false}] ++
        for {k, v} <- Keyword.get(opts, :env, []), do: {to_charlist(k), to_charlist(v)}

    port_opts =
      [
        :binary,
        :exit_status,
        :use_stdio,
        :stderr_to_stdout,
        {:line, 65_536},
        args: exe_args,
        env: env
      ]
      |> then(fn o -> if cd = opts[:cd], do: [{:cd, cd} | o], else: o end)

    port = Port.open({:spawn_executable, exe}, port_opts)
    {:os_pid, os_pid} = Port.info(port, :os_pid)
    owner = self()

    watcher =
      spawn(fn ->
        ref = Process.monitor(owner)

        receive do
          {:DOWN, ^ref, :process, _, _} -> kill_os_pid(os_pid)
          :stop -> :ok
        end
      end)

    %__MODULE__{port: port, os_pid: os_pid, watcher: watcher, label: opts[:label]}
  end

  @doc "The code path entry that holds this application's modules."
  @spec ebin() :: String.t()
  def ebin, do: @app |> :code.lib_dir() |> to_string() |> Path.join("ebin")

  @doc """
  Waits for an output line satisfying `fun`. Returns `{:ok, line, seen}`
  (`seen` = earlier lines, oldest first), `{:exit, status, seen}` if the VM
  ended first, or `{:timeout, seen}`.
  """
  @spec await_line(t(), (String.t() -> boolean()), timeout()) ::
          {:ok, String.t(), [String.t()]}
          | {:exit, integer(), [String.t()]}
          | {:timeout, [String.t()]}
  def await_line(vm, fun, timeout) do
    deadline = System.monotonic_time(:millisecond) + timeout
    do_await(vm, fun, deadline, [], "")
  end

  defp do_await(%{port: port} = vm, fun, deadline, seen, partial) do
    left = max(deadline - System.monotonic_time(:millisecond), 0)

    receive do
      {^port, {:data, {:noeol, part}}} ->
        do_await(vm, fun, deadline, seen, partial <> part)

      {^port, {:data, {:eol, part}}} ->
        line = partial <> part

        if fun.(line),
          do: {:ok, line, Enum.reverse(seen)},
          else: do_await(vm, fun, deadline, [line | seen], "")

      {^port, {:exit_status, status}} ->
        stop_watcher(vm)
        {:exit, status, Enum.reverse(seen)}
    after
      left -> {:timeout, Enum.reverse(seen)}
    end
  end

  @doc """
  Collects every remaining line until the VM exits. On timeout the VM is
  killed and `{:timeout, lines}` returned.
  """
  @spec collect(t(), timeout()) :: {:exit, integer(), [String.t()]} | {:timeout, [String.t()]}
  def collect(vm, timeout) do
    case await_line(vm, fn _ -> false end, timeout) do
      {:exit, status, lines} ->
        {:exit, status, lines}

      {:timeout, lines} ->
        {_, _, rest} = kill(vm)
        {:timeout, lines ++ rest}
    end
  end

  @doc """
  Sends SIGKILL and collects what the VM printed before it died:
  `{:killed, status, lines}`.
  """
  @spec kill(t()) :: {:killed, integer() | :unknown, [String.t()]}
  def kill(vm) do
    kill_os_pid(vm.os_pid)

    case await_line(vm, fn _ -> false end, 120_000) do
      {:exit, status, lines} ->
        {:killed, status, lines}

      {:timeout, lines} ->
        stop_watcher(vm)
        {:killed, :unknown, lines}
    end
  end

  @doc "Starts, waits for the exit and returns `{status | :timeout, output lines}`."
  @spec run(String.t(), [String.t()], keyword(), timeout()) ::
          {integer() | :timeout, [String.t()]}
  def run(expr, args, opts, timeout) do
    vm = start(expr, args, opts)

    case collect(vm, timeout) do
      {:exit, status, lines} -> {status, lines}
      {:timeout, lines} -> {:timeout, lines}
    end
  end

  @doc "Sends SIGKILL to an OS process, ignoring a process that is already gone."
  @spec kill_os_pid(pos_integer()) :: :ok
  def kill_os_pid(os_pid) do
    _ = System.cmd("kill", ["-9", Integer.to_string(os_pid)], stderr_to_stdout: true)
    :ok
  end

  defp stop_watcher(%{watcher: watcher}), do: send(watcher, :stop)
end
