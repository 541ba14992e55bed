defmodule BaileysEx.Auth.NIF.Test.Reliability.OsSampler do
  @moduledoc """
  Tells apart why a scheduler thread of a VM was late, from outside that VM.

  A second OS process reads, about every millisecond, the kernel's
  `schedstat` of each normal scheduler thread of the probed VM: the time
  the thread ran, and the time it waited for a CPU while runnable. When a
  ticker on that scheduler comes back late, the samples around the late
  sleep say where the time went:

    * running: the scheduler was busy (a NIF on it, or other processes);
    * waiting for a CPU: other threads had the cores (CPU contention);
    * neither: the thread slept past its timer, or was blocked; this
      counts against the VM like running.

  Waiting for a CPU counts against the VM too, except as far as the kernel
  reports the host running something else on a CPU at the time (steal).
  A host can also pause the whole guest, which the kernel does not report
  as steal: every thread looks as if it ran, waited or slept on. The sign
  is the sampler taking no sample for longer than it spent waiting for a
  CPU (reading a few small files takes microseconds): the time the probed
  thread did not run during that gap is left out.

  Linux only; elsewhere `start/2` returns `nil` and nothing is attributed.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.SubVM

  @typedoc """
  One sample: wall time in µs, `{thread name, ran ns, waited ns}` per
  thread, each CPU's steal time in clock ticks, and the ns the sampler's
  own threads have waited for a CPU.
  """
  @type sample ::
          {integer(), [{String.t(), integer(), integer()}], [integer()], non_neg_integer()}

  @typedoc "Where the time of one late sleep went, in milliseconds."
  @type attribution :: %{
          late_ms: float(),
          scheduler: String.t(),
          ran_ms: float(),
          waited_ms: float(),
          machine_stopped_ms: float(),
          stolen_ms: float(),
          vm_ms: float()
        }

  @doc """
  Starts sampling this VM's scheduler threads for `duration_ms` into
  `file`; returns once the first sample is taken, or `nil` off Linux.
  """
  @spec start(Path.t(), pos_integer()) :: SubVM.t() | nil
  def start(file, duration_ms) do
    if File.dir?("/proc/self/task") do
      vm =
        SubVM.start(
          "BaileysEx.Auth.NIF.Test.Reliability.OsSampler.main(System.argv())",
          [System.pid(), file, Integer.to_string(duration_ms)],
          # At the lowest priority the observer takes no CPU from the VM it
          # observes; its own waits for a CPU are sampled too, so a sampler
          # kept waiting never passes for a stopped machine (`attribute/2`).
          # Few threads: fewer files per sample.
          nice: 19,
          erl: "+S 1 +SDcpu 1 +SDio 1"
        )

      {:ok, _line, _} = SubVM.await_line(vm, &(&1 == "READY"), 60_000)
      vm
    end
  end

  @doc "Waits for the sampler started by `start/2` and returns its samples."
  @spec finish(SubVM.t() | nil, Path.t()) :: [sample()]
  def finish(nil, _file), do: []

  def finish(vm, file) do
    {:exit, 0, _lines} = SubVM.collect(vm, 120_000)
    file |> File.read!() |> :erlang.binary_to_term()
  end

  @doc """
  Where the time of each late sleep went. `late` holds `{started_us,
  ended_us, scheduler_id}` in wall-clock µs (`:os.system_time/1`).
  """
  @spec attribute([sample()], [{integer(), integer(), pos_integer()}]) :: [attribution()]
  def attribute([], _late), do: []

  def attribute(samples, late) do
    samples = List.to_tuple(samples)

    Enum.map(late, fn {started, ended, scheduler_id} ->
      name = "#{scheduler_id}_scheduler"
      first = last_at_or_before(samples, started)
      last = first_at_or_after(samples, ended)
      late_ms = (ended - started) / 1000

      # An unknown thread explains nothing: it is booked as running throughout.
      {ran, waited} =
        thread_delta(elem(samples, first), elem(samples, last), name) || {late_ms, 0.0}

      # A gap between samples is the machine stopping only as far as the
      # sampler was not kept waiting for a CPU (it runs at the lowest
      # priority, so a busy machine can delay it).
      stopped =
        longest_pause(samples, first, last) / 1000 -
          sampler_waited_ms(elem(samples, first), elem(samples, last))

      # While the whole machine is stopped none of its threads runs, however
      # the kernel books that time afterwards (to a thread that was waiting
      # for a CPU, asleep, or to the sampler as if it ran): what the
      # scheduler did not run is the host's as far as the stop lasted.
      machine = min(max(late_ms - ran, 0.0), max(stopped - 2.0, 0.0))
      # Waiting for a CPU while the host ran something else on one (steal
      # time, counted by the kernel per CPU in clock ticks) is the host's.
      stolen =
        min(max(waited - machine, 0.0), stolen_ms(elem(samples, first), elem(samples, last)))

      %{
        late_ms: late_ms,
        scheduler: name,
        ran_ms: ran,
        waited_ms: waited,
        machine_stopped_ms: machine,
        stolen_ms: stolen,
        vm_ms: max(late_ms - machine - stolen, 0.0)
      }
    end)
  end

  defp last_at_or_before(samples, t) do
    Enum.reduce_while((tuple_size(samples) - 1)..0//-1, 0, fn i, acc ->
      if elem(elem(samples, i), 0) <= t, do: {:halt, i}, else: {:cont, acc}
    end)
  end

  defp first_at_or_after(samples, t) do
    last = tuple_size(samples) - 1

    Enum.reduce_while(0..last, last, fn i, acc ->
      if elem(elem(samples, i), 0) >= t, do: {:halt, i}, else: {:cont, acc}
    end)
  end

  defp sampler_waited_ms({_, _, _, before}, {_, _, _, later}), do: (later - before) / 1_000_000

  # The most any one CPU had stolen between two samples, in ms (USER_HZ 100).
  defp stolen_ms({_, _, before, _}, {_, _, later, _}) when length(before) == length(later) do
    before |> Enum.zip_with(later, &(&2 - &1)) |> Enum.max(fn -> 0 end) |> Kernel.*(10.0)
  end

  defp stolen_ms(_before, _later), do: 0.0

  defp thread_delta({_, before, _, _}, {_, later, _, _}, name) do
    with {_, ran0, waited0} <- List.keyfind(before, name, 0),
         {_, ran1, waited1} <- List.keyfind(later, name, 0) do
      {(ran1 - ran0) / 1_000_000, (waited1 - waited0) / 1_000_000}
    else
      _ -> nil
    end
  end

  # The longest stretch between two consecutive samples in the window, µs.
  defp longest_pause(samples, first, last) when last > first do
    Enum.reduce((first + 1)..last, 0, fn i, acc ->
      max(acc, elem(elem(samples, i), 0) - elem(elem(samples, i - 1), 0))
    end)
  end

  defp longest_pause(_samples, _first, _last), do: 0

  @doc """
  Entry point of the sampler VM: `[os_pid, file, duration_ms]`. Prints
  `READY` after the first sample.
  """
  @spec main([String.t()]) :: :ok
  def main([os_pid, file, duration]) do
    lower_session_priority()
    threads = scheduler_threads(os_pid)
    own = thread_stat_files("/proc/self/task")
    deadline = System.monotonic_time(:millisecond) + String.to_integer(duration)
    first = sample(threads, own)
    IO.puts("READY")
    samples = loop(threads, own, deadline, [first])
    File.write!(file, :erlang.term_to_binary(samples))
    :ok
  end

  # With autogroups (Linux's default on desktops and many guests) a nice
  # value ranks threads only within their session, and this VM was started
  # in a session of its own: its group would weigh as much as the probed
  # VM's, whatever `nice` says, and take a CPU from it for milliseconds.
  # Lowering a priority needs no privilege; where there are no autogroups
  # the file is absent and nice alone applies.
  defp lower_session_priority do
    _ = File.write("/proc/self/autogroup", "19")
    :ok
  end

  defp loop(threads, own, deadline, acc) do
    if System.monotonic_time(:millisecond) >= deadline do
      Enum.reverse(acc)
    else
      Process.sleep(1)
      loop(threads, own, deadline, [sample(threads, own) | acc])
    end
  end

  defp sample(threads, own) do
    own_waited = own |> read_stats() |> Enum.map(&elem(&1, 2)) |> Enum.sum()
    {:os.system_time(:microsecond), read_stats(threads), steal_per_cpu(), own_waited}
  end

  defp read_stats(threads) do
    for {name, path} <- threads,
        {:ok, text} <- [File.read(path)],
        [ran, waited | _] <- [String.split(text)] do
      {name, String.to_integer(ran), String.to_integer(waited)}
    end
  end

  defp steal_per_cpu do
    case File.read("/proc/stat") do
      {:ok, text} ->
        for "cpu" <> _ = line <- String.split(text, "\n"),
            [name | fields] = String.split(line),
            name != "cpu",
            length(fields) >= 8,
            do: fields |> Enum.at(7) |> String.to_integer()

      _ ->
        []
    end
  end

  defp scheduler_threads(os_pid) do
    "/proc/#{os_pid}/task"
    |> thread_stat_files()
    |> Enum.filter(fn {name, _path} -> name =~ ~r/^\d+_scheduler$/ end)
  end

  defp thread_stat_files(dir) do
    for tid <- File.ls!(dir),
        {:ok, comm} <- [File.read("#{dir}/#{tid}/comm")] do
      {String.trim(comm), "#{dir}/#{tid}/schedstat"}
    end
  end
end
