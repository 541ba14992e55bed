defmodule BaileysEx.Auth.NIF.Bench.Conditions do
  @moduledoc """
  Samples the state of the machine around a section of the benchmark: the
  1-minute load average, the CPU time spent by the whole machine and by this
  OS process (with the helper processes it started), and the disk's flush
  latency (the fsync probe of `Machine`). `Trust` judges two samples.

  CPU times come from `/proc/stat` and `/proc/self/stat` (Linux); where they
  are missing the fields are `nil` and only what could be read is judged.
  """

  alias BaileysEx.Auth.NIF.Bench.{Machine, Timing}

  @typedoc """
  One sample. `cpu` holds the machine's busy and total clock ticks since
  boot, `own_ticks` the ticks of this OS process and its reaped children.
  """
  @type sample :: %{
          at_ms: float(),
          cpus: pos_integer(),
          load1: float() | nil,
          cpu: %{busy: non_neg_integer(), total: non_neg_integer()} | nil,
          own_ticks: non_neg_integer() | nil,
          flush_us: float() | nil
        }

  @doc """
  Runs `fun` between two samples; `scratch_dir` is where the flush probe
  writes. Returns `{result, before, after}`. The probes sit outside the
  CPU-time window, so their own work is not counted.
  """
  @spec around(Path.t(), function()) :: {term(), sample(), sample()}
  def around(scratch_dir, fun) when is_function(fun, 0) do
    flush_before = probe(scratch_dir)
    load_before = load1()
    before = counters()
    result = fun.()
    after_ = counters()
    load_after = load1()
    flush_after = probe(scratch_dir)

    {result, Map.merge(before, %{load1: load_before, flush_us: flush_before}),
     Map.merge(after_, %{load1: load_after, flush_us: flush_after})}
  end

  # The page cache is written back first so that the probe times the disk,
  # not the writes the section left behind.
  defp probe(dir) do
    Timing.write_back()
    Machine.fsync_probe_us(dir)
  end

  defp counters do
    %{
      at_ms: Timing.now_ms(),
      cpus: online_cpus(),
      cpu: read("/proc/stat", &parse_stat/1),
      own_ticks: own_ticks()
    }
  end

  defp load1, do: read("/proc/loadavg", &parse_loadavg/1)

  defp online_cpus do
    case :erlang.system_info(:logical_processors_online) do
      n when is_integer(n) and n > 0 -> n
      _ -> System.schedulers_online()
    end
  end

  # This VM plus its direct children (the port helper that runs `sync` and
  # reaps it): their work is the benchmark's own, not another's.
  defp own_ticks do
    with own when is_integer(own) <- read("/proc/self/stat", &parse_process_ticks/1) do
      children()
      |> Enum.map(&read("/proc/#{&1}/stat", fn text -> parse_process_ticks(text) end))
      |> Enum.filter(&is_integer/1)
      |> Enum.sum()
      |> Kernel.+(own)
    end
  end

  defp children do
    case File.ls("/proc/self/task") do
      {:ok, tasks} ->
        tasks
        |> Enum.flat_map(fn tid ->
          case File.read("/proc/self/task/#{tid}/children") do
            {:ok, text} -> String.split(text)
            {:error, _} -> []
          end
        end)
        |> Enum.uniq()

      {:error, _} ->
        []
    end
  end

  defp read(path, parse) do
    case File.read(path) do
      {:ok, text} -> parse.(text)
      {:error, _} -> nil
    end
  end

  @doc "The 1-minute load average from the text of `/proc/loadavg`; `nil` if unreadable."
  @spec parse_loadavg(String.t()) :: float() | nil
  def parse_loadavg(text) when is_binary(text) do
    with [first | _] <- String.split(text),
         {load, ""} <- Float.parse(first) do
      load
    else
      _ -> nil
    end
  end

  @doc """
  Busy and total clock ticks of all CPUs from the text of `/proc/stat`.
  Idle and I/O wait are idle; user, nice, system, interrupts and steal (time
  the hypervisor gave to another guest) are busy. Guest time is already
  counted in user and nice.
  """
  @spec parse_stat(String.t()) :: %{busy: non_neg_integer(), total: non_neg_integer()} | nil
  def parse_stat(text) when is_binary(text) do
    with ["cpu" | fields] <- text |> String.split("\n", parts: 2) |> hd() |> String.split(),
         {:ok, [user, nice, system, idle, iowait, irq, softirq | rest]} <- integers(fields) do
      steal = Enum.at(rest, 0, 0)
      busy = user + nice + system + irq + softirq + steal
      %{busy: busy, total: busy + idle + iowait}
    else
      _ -> nil
    end
  end

  @doc """
  User and system ticks of a process and of its reaped children, from the
  text of `/proc/<pid>/stat` (fields 14 to 17); `nil` if unreadable.
  """
  @spec parse_process_ticks(String.t()) :: non_neg_integer() | nil
  def parse_process_ticks(text) when is_binary(text) do
    # The command name (field 2) may hold spaces and parentheses: fields are
    # counted from the last ")".
    with [_, after_name] <- :binary.split(text, ")", [:global]) |> split_last(),
         fields = String.split(after_name),
         {:ok, [utime, stime, cutime, cstime]} <- integers(Enum.slice(fields, 11, 4)) do
      utime + stime + cutime + cstime
    else
      _ -> nil
    end
  end

  defp split_last([_]), do: :error
  defp split_last(parts), do: [Enum.drop(parts, -1), List.last(parts)]

  defp integers(fields) do
    parsed = Enum.map(fields, &Integer.parse/1)

    if parsed != [] and Enum.all?(parsed, &match?({n, ""} when n >= 0, &1)),
      do: {:ok, Enum.map(parsed, &elem(&1, 0))},
      else: :error
  end
end
