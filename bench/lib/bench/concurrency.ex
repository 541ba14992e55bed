defmodule BaileysEx.Auth.NIF.Bench.Concurrency do
  @moduledoc """
  Concurrent writers: `processes` processes each save `keys` distinct
  pre-keys into one directory at the same time. Reports wall time, calls per
  second and per-call latency (median, p99), and how many keys are listed
  afterwards.

  Runs of the implementations alternate (A B, then B A, ...) when repeated;
  wall times are the median over repeats, latencies are pooled.
  """

  alias BaileysEx.Auth.NIF.Bench.{Calls, Config, Implementations, Row, Timing, Values, Workspace}

  @doc "Runs the concurrency scenario; one row."
  @spec run(Implementations.plan(), Workspace.t(), Config.t()) :: Row.t()
  def run(plan, ws, config) do
    %{processes: processes, keys: keys, repeats: repeats} = config.concurrency

    runs =
      for rep <- 0..(repeats - 1),
          impl <- if(rem(rep, 2) == 0, do: plan.impls, else: Enum.reverse(plan.impls)) do
        dir = Workspace.fresh_dir(ws, "concurrency", impl.id)
        result = run_once(impl, dir, processes, keys)
        Workspace.discard([dir])
        {impl.id, result}
      end

    figures =
      runs
      |> Enum.group_by(fn {id, _} -> id end, fn {_, result} -> result end)
      |> Map.new(fn {id, results} -> {id, summarize(results, processes * keys)} end)

    Row.concurrent(
      :concurrency,
      "concurrency: #{processes} processes x #{keys} distinct keys",
      processes * keys,
      figures
    )
  end

  defp summarize(results, ops) do
    wall_ms = results |> Enum.map(& &1.wall_ms) |> Enum.sort() |> Timing.median()
    latency = results |> Enum.flat_map(& &1.latencies) |> Timing.stats()

    %{
      wall_ms: wall_ms,
      ops_per_s: ops / (wall_ms / 1000),
      median_us: latency.median_us,
      p99_us: latency.p99_us,
      listed: results |> Enum.map(& &1.listed) |> Enum.min(),
      repeats: length(results)
    }
  end

  defp run_once(impl, dir, processes, keys) do
    # One call first, so the directory exists and neither side pays for mkdir.
    Calls.list!(impl, dir)
    parent = self()
    values = Map.new(1..keys, &{&1, Values.pre_key(&1)})

    workers =
      for p <- 1..processes do
        spawn_monitor(fn ->
          receive do
            :go -> :ok
          end

          latencies =
            for k <- 1..keys do
              {us, :ok} =
                Timing.time_us(fn ->
                  Calls.save!(impl, dir, :"pre-key", p * 100_000 + k, values[k])
                end)

              us
            end

          send(parent, {:done, self(), latencies})
        end)
      end

    started = Timing.now_ms()
    Enum.each(workers, fn {pid, _ref} -> send(pid, :go) end)
    latencies = Enum.flat_map(workers, &await/1)
    wall_ms = Timing.now_ms() - started

    %{wall_ms: wall_ms, latencies: latencies, listed: Calls.count(Calls.list!(impl, dir))}
  end

  defp await({pid, ref}) do
    receive do
      {:done, ^pid, latencies} ->
        Process.demonitor(ref, [:flush])
        latencies

      {:DOWN, ^ref, :process, ^pid, reason} ->
        raise "concurrent writer failed: #{inspect(reason, limit: 10)}"
    end
  end
end
