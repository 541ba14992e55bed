defmodule BaileysEx.Auth.NIF.Test.Reliability.SchedulerProbe do
  @moduledoc """
  Reports how late a normal scheduler's processes get while large values
  are saved and loaded through a backend.

  Writers save (and now and then load) multi-megabyte binaries and terms for
  a fixed time. Meanwhile a ticker process sleeps 1 ms in a loop and records
  how long each sleep really took, and `:erlang.system_monitor/2` reports
  every process that ran more than 20 ms without yielding. The figures are
  timings of a shared machine: they are reported, never asserted.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @threshold_ms 20

  @type report :: %{
          schedulers: pos_integer(),
          dirty_cpu_schedulers: pos_integer(),
          ticks: non_neg_integer(),
          control_max_gap_ms: float(),
          max_gap_ms: float(),
          p99_gap_ms: float(),
          gaps_over_threshold: non_neg_integer(),
          long_schedules: [term()],
          nif_long_schedules: [term()],
          saves: non_neg_integer(),
          loads: non_neg_integer(),
          megabytes: non_neg_integer()
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
    # The ticker alone: how late the machine makes it with no writers.
    {_, control_gaps} = tick(System.monotonic_time(:millisecond) + 500, 0, [])
    collector = spawn_link(fn -> collect([]) end)
    previous = :erlang.system_monitor(collector, [{:long_schedule, @threshold_ms}])
    deadline = System.monotonic_time(:millisecond) + duration

    try do
      ticker = Task.async(fn -> tick(deadline, 0, []) end)

      workers =
        for {value, w} <- Enum.with_index(values, 1) do
          Task.async(fn -> write(backend, dir, "large-#{w}", value, deadline, 0, 0) end)
        end

      {ticks, gaps} = Task.await(ticker, :infinity)
      work = Task.await_many(workers, :infinity)
      send(collector, {:report, self()})
      events = receive(do: ({:events, events} -> events))
      sorted = Enum.sort(gaps)

      %{
        schedulers: :erlang.system_info(:schedulers_online),
        dirty_cpu_schedulers: :erlang.system_info(:dirty_cpu_schedulers_online),
        ticks: ticks,
        control_max_gap_ms: Enum.max(control_gaps, fn -> 0.0 end),
        max_gap_ms: List.last(sorted) || 0.0,
        p99_gap_ms: Enum.at(sorted, div(length(sorted) * 99, 100)) || 0.0,
        gaps_over_threshold: Enum.count(gaps, &(&1 > @threshold_ms)),
        long_schedules: events,
        nif_long_schedules: Enum.filter(events, &nif_event?/1),
        saves: work |> Enum.map(&elem(&1, 0)) |> Enum.sum(),
        loads: work |> Enum.map(&elem(&1, 1)) |> Enum.sum(),
        megabytes: div(Enum.sum(Enum.map(values, &:erlang.external_size/1)), 1_000_000)
      }
    after
      restore(previous)
    end
  end

  @doc "One paragraph describing `report` for `backend` under `config`."
  @spec describe(report(), Backend.t(), String.t()) :: String.t()
  def describe(report, backend, config) do
    "scheduler report: #{backend.name}, #{config} (#{report.schedulers} schedulers, " <>
      "#{report.dirty_cpu_schedulers} dirty CPU), " <>
      "#{:erlang.system_info(:logical_processors_available)} cores: #{report.saves} saves and " <>
      "#{report.loads} loads of #{report.megabytes} MB of values; ticker: #{report.ticks} " <>
      "ticks of 1 ms, p99 #{ms(report.p99_gap_ms)} ms, longest #{ms(report.max_gap_ms)} ms " <>
      "(#{ms(report.control_max_gap_ms)} ms with no writers), #{report.gaps_over_threshold} " <>
      "over #{@threshold_ms} ms; long_schedule events: #{length(report.long_schedules)} " <>
      "(#{length(report.nif_long_schedules)} in the NIF)"
  end

  defp ms(value), do: Float.round(value / 1, 1)

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

  # Each sleep's real length in milliseconds, newest first.
  defp tick(deadline, ticks, gaps) do
    now = System.monotonic_time()

    if System.convert_time_unit(now, :native, :millisecond) >= deadline do
      {ticks, gaps}
    else
      Process.sleep(1)
      gap = System.convert_time_unit(System.monotonic_time() - now, :native, :microsecond)
      tick(deadline, ticks + 1, [gap / 1000 | gaps])
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
    IO.puts("REPORT " <> Base.encode64(:erlang.term_to_binary(report)))
    :ok
  end
end
