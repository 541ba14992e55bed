defmodule BaileysEx.Auth.NIF.Bench.Timing do
  @moduledoc """
  The benchmark's own timer: wall-clock time of single calls from
  `:erlang.monotonic_time/0`, interleaved runs of several implementations,
  and summary statistics (median, p90, p99).

  Implementations are run interleaved, a block of calls each per round, so
  that slow drift of the machine (page cache, disk writeback, CPU frequency)
  falls on all of them alike. The order inside a round alternates (A B,
  B A, ...) so that neither implementation always runs right after the
  other. Before each block the page cache is written back, untimed: an
  implementation that leaves data unsynced (the JSON original never fsyncs
  its data files) then pays for its own writes, in its own later fsyncs as
  it would running alone, and never in the other implementation's.
  """

  # Calls per implementation between switches: enough that an implementation
  # pays for its own deferred writes, few enough that drift still cancels.
  @block 10

  @typedoc "One implementation taking part in an interleaved run."
  @type contender :: %{
          required(:id) => term(),
          required(:run) => (non_neg_integer(), term() -> term()),
          optional(:setup) => (non_neg_integer() -> term())
        }

  @typedoc "Summary of a list of samples, all times in microseconds."
  @type stats :: %{
          n: non_neg_integer(),
          median_us: float(),
          p90_us: float(),
          p99_us: float(),
          mean_us: float(),
          min_us: float(),
          max_us: float(),
          total_ms: float()
        }

  @doc """
  Runs `fun` once and returns `{microseconds, result}` (float, nanosecond
  resolution).
  """
  @spec time_us(function()) :: {float(), term()}
  def time_us(fun) when is_function(fun, 0) do
    started = :erlang.monotonic_time()
    result = fun.()
    finished = :erlang.monotonic_time()
    {:erlang.convert_time_unit(finished - started, :native, :nanosecond) / 1000, result}
  end

  @doc "Current monotonic time in milliseconds (float), for wall-clock spans."
  @spec now_ms() :: float()
  def now_ms, do: :erlang.monotonic_time(:microsecond) / 1000

  @doc """
  Runs the contenders interleaved and returns `%{id => [microseconds]}` in
  call order.

  Every contender makes the same calls, indexed `0, 1, 2, ...`; call `i` is
  `setup.(i)` (untimed; defaults to `nil`) and then `run.(i, setup_result)`
  (timed). Options:

    * `:warmup` - untimed calls first (default 1); their indexes come
      before the timed ones, so ids derived from the index stay unique;
    * `:count` - exactly this many timed calls; otherwise
    * `:min`, `:max`, `:budget_ms` - at least `:min` calls, then more
      until `:max` calls or until `:budget_ms` of wall time has passed;
    * `:block` - calls per contender per round (default #{@block});
    * `:drain` - run untimed before each block (default: write back the
      page cache with `sync`).
  """
  @spec interleave([contender()], keyword()) :: %{term() => [float()]}
  def interleave(contenders, opts) when is_list(contenders) do
    warmup = Keyword.get(opts, :warmup, 1)
    block = Keyword.get(opts, :block, @block)
    drain = Keyword.get(opts, :drain, &write_back/0)
    {at_least, at_most} = bounds(opts)
    budget_ms = Keyword.get(opts, :budget_ms, :infinity)

    if warmup > 0, do: run_round(contenders, 0..(warmup - 1), 0, drain)

    :erlang.garbage_collect()
    started = now_ms()
    empty = Map.new(contenders, &{&1.id, []})

    0
    |> Stream.iterate(&(&1 + 1))
    |> Enum.reduce_while({empty, 0}, fn round, {acc, done} ->
      if done < at_least or (done < at_most and within_budget?(started, budget_ms)) do
        first = warmup + done
        size = min(block, at_most - done)
        timings = run_round(contenders, first..(first + size - 1), round, drain)

        {:cont,
         {Enum.reduce(timings, acc, fn {id, us}, a -> Map.update!(a, id, &[us | &1]) end),
          done + size}}
      else
        {:halt, {acc, done}}
      end
    end)
    |> elem(0)
    |> Map.new(fn {id, samples} -> {id, Enum.reverse(samples)} end)
  end

  @doc """
  Writes every dirty page of the machine back to disk (`sync`), so that the
  next timed call starts with no one else's writes pending.
  """
  @spec write_back() :: :ok
  def write_back do
    {_, 0} = System.cmd("sync", [])
    :ok
  end

  defp bounds(opts) do
    case Keyword.fetch(opts, :count) do
      {:ok, count} -> {count, count}
      :error -> {Keyword.fetch!(opts, :min), Keyword.fetch!(opts, :max)}
    end
  end

  defp within_budget?(_started, :infinity), do: true
  defp within_budget?(started, budget_ms), do: now_ms() - started < budget_ms

  defp run_round(contenders, indexes, round, drain) do
    ordered = if rem(round, 2) == 0, do: contenders, else: Enum.reverse(contenders)

    Enum.flat_map(ordered, fn contender ->
      drain.()

      Enum.map(indexes, fn i ->
        prepared = if setup = Map.get(contender, :setup), do: setup.(i), else: nil
        {us, _result} = time_us(fn -> contender.run.(i, prepared) end)
        {contender.id, us}
      end)
    end)
  end

  @doc "Summary statistics of `samples` (microseconds); `nil` for no samples."
  @spec stats([number()]) :: stats() | nil
  def stats([]), do: nil

  def stats(samples) when is_list(samples) do
    sorted = Enum.sort(samples)
    n = length(sorted)
    total = Enum.sum(sorted)

    %{
      n: n,
      median_us: median(sorted),
      p90_us: percentile(sorted, 90),
      p99_us: percentile(sorted, 99),
      mean_us: total / n,
      min_us: hd(sorted) / 1,
      max_us: List.last(sorted) / 1,
      total_ms: total / 1000
    }
  end

  @doc "Median of an already sorted, non-empty list (mean of the middle two when even)."
  @spec median([number()]) :: float()
  def median(sorted) when sorted != [] do
    n = length(sorted)
    middle = div(n, 2)

    if rem(n, 2) == 1 do
      Enum.at(sorted, middle) / 1
    else
      (Enum.at(sorted, middle - 1) + Enum.at(sorted, middle)) / 2
    end
  end

  @doc "Nearest-rank percentile `p` (0 < p <= 100) of an already sorted, non-empty list."
  @spec percentile([number()], number()) :: float()
  def percentile(sorted, p) when sorted != [] and p > 0 and p <= 100 do
    n = length(sorted)
    rank = n |> Kernel.*(p / 100) |> Float.ceil() |> trunc() |> max(1) |> min(n)
    Enum.at(sorted, rank - 1) / 1
  end
end
