defmodule BaileysEx.Auth.NIF.Bench.Trust do
  @max_other_share 0.25
  @max_flush_ratio 2.0

  @moduledoc """
  Decides whether the figures of one section of the benchmark can be
  trusted, from the `Conditions` sampled before and after it.

  A section is not trusted when:

    * the machine was busy: other processes (not this VM, not the helpers it
      started) used more than #{round(@max_other_share * 100)}% of all CPU time during the
      section (half a core of two). Busy time is everything but idle and I/O
      wait, and includes steal (time the hypervisor gave to another guest).
      The benchmark itself makes the kernel's writeback threads work, but
      for a few percent of the machine, well below the threshold;
    * the disk's flush time moved: the slower of the two fsync probes (before
      and after) took more than #{round(@max_flush_ratio)} times as long as the faster one.

  The 1-minute load average is recorded, not judged: it counts the
  benchmark's own threads, running or waiting on fsync, which hold it near
  two on average and far above during concurrent writers, and it lags a
  minute behind. Where CPU times cannot be read (no `/proc`), only the
  flush time is judged.
  """

  @typedoc "The judgement of one section, with the figures it rests on."
  @type verdict :: %{
          trusted: boolean(),
          reasons: [String.t()],
          seconds: float(),
          cpus: pos_integer(),
          load_before: float() | nil,
          load_after: float() | nil,
          other_cpu_share: float() | nil,
          own_cpu_share: float() | nil,
          flush_us_before: float() | nil,
          flush_us_after: float() | nil,
          flush_ratio: float() | nil
        }

  @doc """
  Judges a section from the samples taken before and after it (the
  `t:BaileysEx.Auth.NIF.Bench.Conditions.sample/0` maps of
  `BaileysEx.Auth.NIF.Bench.Conditions.around/2`).
  """
  @spec judge(map(), map()) :: verdict()
  def judge(%{cpus: cpus} = before, %{} = after_) when is_integer(cpus) and cpus > 0 do
    {other, own} = cpu_shares(before, after_)
    flush_ratio = ratio(before[:flush_us], after_[:flush_us])
    loads = {before[:load1], after_[:load1]}

    reasons =
      [
        busy_reason(other, loads, cpus),
        flush_reason(before[:flush_us], after_[:flush_us], flush_ratio)
      ]
      |> Enum.reject(&is_nil/1)

    %{
      trusted: reasons == [],
      reasons: reasons,
      seconds: max(after_.at_ms - before.at_ms, 0.0) / 1000,
      cpus: cpus,
      load_before: elem(loads, 0),
      load_after: elem(loads, 1),
      other_cpu_share: other,
      own_cpu_share: own,
      flush_us_before: before[:flush_us],
      flush_us_after: after_[:flush_us],
      flush_ratio: flush_ratio
    }
  end

  @doc "The thresholds, for the results file."
  @spec rules() :: map()
  def rules do
    %{
      max_other_cpu_share: @max_other_share,
      max_flush_ratio: @max_flush_ratio
    }
  end

  @doc """
  The warning line for an untrusted section, `label` naming it; `nil` when
  the section is trusted.
  """
  @spec warning(String.t(), verdict()) :: String.t() | nil
  def warning(_label, %{trusted: true}), do: nil

  def warning(label, %{reasons: reasons}),
    do: "WARNING (#{label}): #{Enum.join(reasons, "; ")}: ratios may be off"

  # Shares of all CPU time the machine had during the section (cpus x
  # seconds): what other processes used, and what this VM used.
  defp cpu_shares(%{cpu: %{} = c0, own_ticks: o0}, %{cpu: %{} = c1, own_ticks: o1})
       when is_integer(o0) and is_integer(o1) do
    total = c1.total - c0.total
    busy = c1.busy - c0.busy
    own = o1 - o0

    if total > 0 and busy >= 0 and own >= 0 do
      {clamp((busy - own) / total), clamp(own / total)}
    else
      {nil, nil}
    end
  end

  defp cpu_shares(_before, _after), do: {nil, nil}

  defp clamp(share), do: share |> max(0.0) |> min(1.0)

  defp busy_reason(other, loads, cpus) when is_float(other) do
    if other > @max_other_share do
      "machine busy: other processes used #{percent(other)} of the CPU time of " <>
        "#{cpus} CPUs (load #{fmt_loads(loads)})"
    end
  end

  defp busy_reason(nil, _loads, _cpus), do: nil

  defp flush_reason(_before_us, _after_us, nil), do: nil

  defp flush_reason(before_us, after_us, ratio) do
    if ratio > @max_flush_ratio do
      "disk flush time moved: #{fmt_flush(before_us)} -> #{fmt_flush(after_us)} " <>
        "(#{:erlang.float_to_binary(ratio, decimals: 1)}x)"
    end
  end

  defp ratio(a, b) when is_number(a) and is_number(b) and a > 0 and b > 0,
    do: max(a, b) / min(a, b)

  defp ratio(_a, _b), do: nil

  defp percent(share), do: "#{round(share * 100)}%"

  defp fmt_loads({l0, l1}), do: "#{fmt_load(l0)} -> #{fmt_load(l1)}"

  defp fmt_load(nil), do: "?"
  defp fmt_load(load), do: :erlang.float_to_binary(load / 1, decimals: 2)

  defp fmt_flush(us) when us < 1000, do: "#{round(us)} µs"
  defp fmt_flush(us), do: :erlang.float_to_binary(us / 1000, decimals: 1) <> " ms"
end
