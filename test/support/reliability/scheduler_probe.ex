defmodule BaileysEx.Auth.NIF.Test.Reliability.SchedulerProbe do
  @moduledoc """
  Measures whether large NIF calls keep the normal schedulers free.

  Writers save (and now and then load) multi-megabyte binaries and terms
  through a backend for a fixed time. Meanwhile a ticker process sleeps
  1 ms in a loop and records how long each sleep really took, and
  `:erlang.system_monitor/2` reports every process that ran more than 20 ms
  without yielding. A NIF that did its work on a normal scheduler would
  show up in both.

  Each sleep that comes back more than 20 ms late is explained by
  `OsSampler` (Linux): how much of it the scheduler thread ran, waited for
  a CPU (and how much of that the host stole), and how much of the time it
  did not run the whole machine was stopped. Only stolen and stopped time
  is not the VM's doing (`vm_gaps_over_threshold` leaves it out).
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, OsSampler}

  @threshold_ms 20

  @type report :: %{
          ticks: non_neg_integer(),
          control_max_gap_ms: float(),
          max_gap_ms: float(),
          gaps_over_threshold: non_neg_integer(),
          late: [OsSampler.attribution()],
          vm_gaps_over_threshold: non_neg_integer(),
          long_schedules: [term()],
          nif_long_schedules: [term()],
          saves: non_neg_integer(),
          loads: non_neg_integer(),
          megabytes: non_neg_integer(),
          cpu_bound_threads: pos_integer()
        }

  @doc """
  Runs the probe. Options: `:backend` (a `Backend`), `:dir`, `:writers`
  (8), `:duration_ms` (3000).
  """
  @spec run(keyword()) :: report()
  def run(opts) do
    backend = Keyword.fetch!(opts, :backend)
    dir = Keyword.fetch!(opts, :dir)
    writers = Keyword.get(opts, :writers, 8)
    duration = Keyword.get(opts, :duration_ms, 3_000)

    # Values are built before measuring: building them is not the NIF's work.
    values = for w <- 1..writers, do: large_value(w)
    # Earlier work's dirty pages are written back first, so that the kernel's
    # writeback does not run during the measurement.
    write_back()
    # The ticker alone: how late the machine makes it with no writers.
    control_gap = control_gap()
    collector = spawn_link(fn -> collect([]) end)
    previous = :erlang.system_monitor(collector, [{:long_schedule, @threshold_ms}])
    sampler_file = dir <> ".os-samples"
    File.mkdir_p!(Path.dirname(sampler_file))
    sampler = OsSampler.start(sampler_file, duration + 1_000)
    deadline = System.monotonic_time(:millisecond) + duration

    try do
      ticker = Task.async(fn -> tick(deadline, 0, 0, []) end)

      workers =
        for {value, w} <- Enum.with_index(values, 1) do
          Task.async(fn -> write(backend, dir, "large-#{w}", value, deadline, 0, 0) end)
        end

      {ticks, max_gap_native, late} = Task.await(ticker, :infinity)
      work = Task.await_many(workers, :infinity)
      send(collector, {:report, self()})
      events = receive(do: ({:events, events} -> events))
      # And again afterwards: a machine that got busy during the run shows here.
      control_gap = max(control_gap, control_gap())
      attributed = OsSampler.attribute(OsSampler.finish(sampler, sampler_file), late)

      %{
        ticks: ticks,
        control_max_gap_ms: System.convert_time_unit(control_gap, :native, :microsecond) / 1000,
        max_gap_ms: System.convert_time_unit(max_gap_native, :native, :microsecond) / 1000,
        gaps_over_threshold: length(late),
        late: attributed,
        vm_gaps_over_threshold:
          if(attributed == [] and late != [],
            do: length(late),
            else: Enum.count(attributed, &(&1.vm_ms > @threshold_ms))
          ),
        long_schedules: events,
        nif_long_schedules: Enum.filter(events, &nif_event?/1),
        saves: work |> Enum.map(&elem(&1, 0)) |> Enum.sum(),
        loads: work |> Enum.map(&elem(&1, 1)) |> Enum.sum(),
        megabytes: div(Enum.sum(Enum.map(values, &:erlang.external_size/1)), 1_000_000),
        cpu_bound_threads:
          :erlang.system_info(:schedulers_online) +
            :erlang.system_info(:dirty_cpu_schedulers_online)
      }
    after
      restore(previous)
    end
  end

  defp control_gap do
    {_, gap, _} = tick(System.monotonic_time(:millisecond) + 500, 0, 0, [])
    gap
  end

  defp write_back do
    if sync = System.find_executable("sync"), do: System.cmd(sync, [])
    :ok
  end

  defp restore(:undefined), do: :erlang.system_monitor(:undefined)
  defp restore({pid, opts}), do: :erlang.system_monitor(pid, opts)

  # Half the writers store one big binary, half a map of many 1 KB binaries.
  defp large_value(w) do
    size = (2 + rem(w, 4)) * 1_000_000
    chunk = :crypto.strong_rand_bytes(1024)

    if rem(w, 2) == 0,
      do: :binary.copy(chunk, div(size, 1024)),
      else: Map.new(1..div(size, 1100), &{"k#{&1}", chunk})
  end

  # Late sleeps are kept with their wall-clock span and scheduler, for the
  # OS sampler to explain.
  defp tick(deadline, ticks, max_gap, late) do
    now = System.monotonic_time()

    if System.convert_time_unit(now, :native, :millisecond) >= deadline do
      {ticks, max_gap, Enum.reverse(late)}
    else
      started = :os.system_time(:microsecond)
      Process.sleep(1)
      gap = System.monotonic_time() - now

      late =
        if System.convert_time_unit(gap, :native, :millisecond) > @threshold_ms,
          do: [
            {started, :os.system_time(:microsecond), :erlang.system_info(:scheduler_id)} | late
          ],
          else: late

      tick(deadline, ticks + 1, max(max_gap, gap), late)
    end
  end

  defp write(backend, dir, id, value, deadline, saves, loads) do
    if System.monotonic_time(:millisecond) >= deadline do
      {saves, loads}
    else
      :ok = backend.module.save_keys(dir, :"device-list", id, value)

      if rem(saves, 3) == 2 do
        {:ok, _} = backend.module.load_keys(dir, :"device-list", id)
        write(backend, dir, id, value, deadline, saves + 1, loads + 1)
      else
        write(backend, dir, id, value, deadline, saves + 1, loads)
      end
    end
  end

  defp collect(events) do
    receive do
      {:monitor, pid, :long_schedule, info} -> collect([{pid, info} | events])
      {:report, to} -> send(to, {:events, Enum.reverse(events)})
    end
  end

  defp nif_event?({_pid, info}) do
    Enum.any?([Keyword.get(info, :in), Keyword.get(info, :out)], fn
      {BaileysEx.Auth.NIF, _, _} -> true
      _ -> false
    end)
  end

  @doc """
  Entry point for a second VM (for example one started with `+S 1`):
  `[backend_name, dir, duration_ms]`; prints the report as `REPORT <term>`
  in Base64 external term format.
  """
  @spec main([String.t()]) :: :ok
  def main([name, dir, duration]) do
    {:ok, backend} = Backend.fetch(name)
    report = run(backend: backend, dir: dir, duration_ms: String.to_integer(duration))
    schedulers = :erlang.system_info(:schedulers_online)
    encoded = Base.encode64(:erlang.term_to_binary({schedulers, report}))
    IO.puts("REPORT " <> encoded)
    :ok
  end
end
