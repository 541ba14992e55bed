defmodule BaileysEx.Auth.NIF.Bench.Scaling do
  @moduledoc """
  How the cost of a call grows with the number of keys already in the
  directory: microseconds per new-key `save_keys`, per `load_keys` and per
  `list_persisted_keys` at each size of `Config.scaling_sizes`.

  Each implementation has its own directory, grown from one size to the
  next. Filling is not timed and is done quickly:

    * ETF: by the NIF for every implementation (its files and manifest are
      byte-identical to the original's), with concurrent writers;
    * JSON: by the NIF for every implementation when a probe shows its files
      decode to the same JSON as the baseline's and the baseline reads the
      NIF's directory back unchanged; otherwise each implementation fills
      its own directory (the baseline one key at a time, since concurrent
      saves through its lock can lose manifest updates).
  """

  alias BaileysEx.Auth.NIF.Bench.{Calls, Config, Implementations, Row, Timing, Values, Workspace}

  @json_codec BaileysEx.Auth.NIF.Baseline.JSONCodec
  @new_key_base 100_000_000
  @targets %{{:save_keys, 10_000} => 5.0, {:load_keys, 10_000} => 10.0}

  @doc """
  Runs the scaling scenario; returns its rows and a sentence on how the
  directories were filled.
  """
  @spec run(Implementations.plan(), Workspace.t(), Config.t(), (String.t() -> any())) ::
          %{rows: [Row.t()], fill: String.t()}
  def run(plan, ws, config, progress) do
    {fillers, fill_note} = fillers(plan, ws, config)
    dirs = Map.new(plan.impls, &{&1.id, Workspace.fresh_dir(ws, "scaling", &1.id)})

    {rows, _present} =
      Enum.flat_map_reduce(config.scaling_sizes, 0, fn size, present ->
        progress.("#{size} keys present (fill, then measure)")

        for impl <- plan.impls do
          fill(Map.fetch!(fillers, impl.id), dirs[impl.id], present, size)
        end

        {measure(plan, dirs, size, config), size}
      end)

    Workspace.discard(Map.values(dirs))
    %{rows: rows, fill: fill_note}
  end

  defp measure(plan, dirs, size, config) do
    base = @new_key_base + size * 1_000

    saves =
      interleave(plan, dirs, [warmup: 1] ++ config.scaling_save, fn impl, dir ->
        %{
          setup: fn i -> Values.pre_key(base + i) end,
          run: fn i, value -> Calls.save!(impl, dir, :"pre-key", base + i, value) end
        }
      end)

    # Every id saved above (warm-up included) exists in every directory.
    saved = 1 + (saves |> Map.values() |> Enum.map(&length/1) |> Enum.min())

    loads =
      interleave(plan, dirs, [warmup: 1] ++ config.scaling_load, fn impl, dir ->
        %{run: fn i, _ -> Calls.load!(impl, dir, :"pre-key", base + rem(i, saved)) end}
      end)

    # No warm-up: the calls above already opened the directories, and a
    # baseline listing of 10,000 keys takes tens of seconds.
    lists =
      interleave(plan, dirs, [warmup: 0] ++ config.scaling_list, fn impl, dir ->
        %{run: fn _i, _ -> Calls.list!(impl, dir) end}
      end)

    [
      {:save_keys, "save_keys (new pre-key)", saves},
      {:load_keys, "load_keys (pre-key)", loads},
      {:list_persisted_keys, "list_persisted_keys", lists}
    ]
    |> Enum.map(fn {op, name, samples} ->
      Row.per_op(:scaling, "#{name} @ #{size} keys", samples,
        op: op,
        size: size,
        target: Map.get(@targets, {op, size})
      )
    end)
  end

  defp interleave(plan, dirs, opts, build) do
    plan.impls
    |> Enum.map(fn impl -> impl |> build.(dirs[impl.id]) |> Map.put(:id, impl.id) end)
    |> Timing.interleave(opts)
  end

  # Fills `dir` with pre-keys `from+1..to` through `filler`.
  defp fill({filler, concurrency}, dir, from, to) when to > from do
    (from + 1)..to
    |> Task.async_stream(&Calls.save!(filler, dir, :"pre-key", &1, Values.pre_key(&1)),
      max_concurrency: concurrency,
      ordered: false,
      timeout: :infinity
    )
    |> Stream.run()
  end

  defp fill(_filler, _dir, _from, _to), do: :ok

  # Chooses who fills each implementation's directory, and says so.
  defp fillers(plan, ws, config) do
    nif = Enum.find(plan.impls, &(&1.id == :nif))
    baseline = Enum.find(plan.impls, &(&1.id == :baseline))
    concurrency = config.fill_concurrency
    by_nif = Map.new(plan.impls, &{&1.id, {nif, concurrency}})
    by_self = Map.new(plan.impls, &{&1.id, {&1, if(&1.id == :nif, do: concurrency, else: 1)}})

    cond do
      nif == nil or baseline == nil ->
        {by_self, "each implementation filled its own directory"}

      plan.backend == :etf ->
        {by_nif,
         "all directories filled by the NIF (#{concurrency} writers); " <>
           "ETF files are byte-identical across implementations"}

      json_equal?(nif, baseline, ws) ->
        {by_nif,
         "all directories filled by the NIF (#{concurrency} writers); a probe found its " <>
           "files JSON-equal to the baseline's and read back unchanged by the baseline"}

      true ->
        {by_self,
         "each implementation filled its own directory (NIF with #{concurrency} writers, " <>
           "baseline one key at a time); the NIF's files were not JSON-equal to the baseline's"}
    end
  end

  @doc """
  True when `nif` and `baseline` write JSON-equal files for the same pre-key
  and the baseline reads the NIF's directory exactly as its own.
  """
  @spec json_equal?(Implementations.impl(), Implementations.impl(), Workspace.t()) :: boolean()
  def json_equal?(nif, baseline, ws) do
    value = Values.pre_key(7)
    nif_dir = Workspace.fresh_dir(ws, "json_probe", :nif)
    baseline_dir = Workspace.fresh_dir(ws, "json_probe", :baseline)

    try do
      Calls.save!(nif, nif_dir, :"pre-key", 7, value)
      Calls.save!(baseline, baseline_dir, :"pre-key", 7, value)

      same_files?(nif_dir, baseline_dir) and
        baseline.module.load_keys(nif_dir, :"pre-key", 7) == {:ok, value} and
        baseline.module.list_persisted_keys(nif_dir) ==
          baseline.module.list_persisted_keys(baseline_dir)
    rescue
      _ -> false
    after
      Workspace.discard([nif_dir, baseline_dir])
    end
  end

  defp same_files?(left, right) do
    names = fn dir ->
      dir |> File.ls!() |> Enum.reject(&String.contains?(&1, ".tmp-")) |> Enum.sort()
    end

    names.(left) == names.(right) and
      Enum.all?(names.(left), fn name ->
        decode(File.read!(Path.join(left, name))) == decode(File.read!(Path.join(right, name)))
      end)
  end

  defp decode(bytes) do
    with true <- Code.ensure_loaded?(@json_codec),
         {:ok, term} <- apply(@json_codec, :decode, [bytes]) do
      {:json, term}
    else
      _ -> {:bytes, bytes}
    end
  end
end
