defmodule BaileysEx.Auth.NIF.Bench.TrustTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Bench.Trust

  # Two samples 10 s apart on 2 CPUs (100 ticks a second each: 2,000 ticks),
  # in which this VM used `own` ticks and the machine `busy` ticks in all.
  defp samples(opts) do
    busy = Keyword.get(opts, :busy, 200)
    own = Keyword.get(opts, :own, 100)
    cpu? = Keyword.get(opts, :cpu?, true)
    {flush0, flush1} = Keyword.get(opts, :flush, {500.0, 520.0})
    {load0, load1} = Keyword.get(opts, :load, {0.9, 1.1})

    before = %{
      at_ms: 1_000.0,
      cpus: 2,
      load1: load0,
      cpu: if(cpu?, do: %{busy: 50_000, total: 400_000}),
      own_ticks: if(cpu?, do: 7_000),
      flush_us: flush0
    }

    after_ = %{
      at_ms: 11_000.0,
      cpus: 2,
      load1: load1,
      cpu: if(cpu?, do: %{busy: 50_000 + busy, total: 402_000}),
      own_ticks: if(cpu?, do: 7_000 + own),
      flush_us: flush1
    }

    {before, after_}
  end

  defp judge(opts \\ []) do
    {before, after_} = samples(opts)
    Trust.judge(before, after_)
  end

  test "a quiet machine with a steady disk is trusted, and the figures are kept" do
    verdict = judge()

    assert verdict.trusted
    assert verdict.reasons == []
    assert verdict.seconds == 10.0
    assert verdict.cpus == 2
    assert_in_delta verdict.other_cpu_share, 0.05, 1.0e-9
    assert_in_delta verdict.own_cpu_share, 0.05, 1.0e-9
    assert {verdict.load_before, verdict.load_after} == {0.9, 1.1}
    assert {verdict.flush_us_before, verdict.flush_us_after} == {500.0, 520.0}
    assert_in_delta verdict.flush_ratio, 1.04, 1.0e-9
  end

  test "other processes using more than a quarter of the CPU time make the machine busy" do
    verdict = judge(busy: 1_300, own: 100)

    refute verdict.trusted
    assert_in_delta verdict.other_cpu_share, 0.6, 1.0e-9
    assert [reason] = verdict.reasons
    assert reason =~ "machine busy"
    assert reason =~ "60% of the CPU time of 2 CPUs"
    assert reason =~ "load 0.90 -> 1.10"
  end

  test "the benchmark's own CPU time never counts as other work" do
    verdict = judge(busy: 1_900, own: 1_800)

    assert verdict.trusted
    assert_in_delta verdict.other_cpu_share, 0.05, 1.0e-9
    assert_in_delta verdict.own_cpu_share, 0.9, 1.0e-9
  end

  test "a quarter exactly is still quiet; just above it is busy" do
    assert judge(busy: 600, own: 100).trusted
    refute judge(busy: 602, own: 100).trusted
  end

  test "the load average is recorded but does not decide" do
    # The benchmark's own threads, running or waiting on fsync, raise it.
    verdict = judge(load: {6.0, 9.5})

    assert verdict.trusted
    assert {verdict.load_before, verdict.load_after} == {6.0, 9.5}
  end

  test "without CPU times only the flush time is judged" do
    quiet = judge(cpu?: false, load: {9.0, 9.0})
    assert quiet.trusted
    assert quiet.other_cpu_share == nil
    assert quiet.own_cpu_share == nil

    assert judge(cpu?: false, flush: {500.0, 1_400.0}).reasons == [
             "disk flush time moved: 500 µs -> 1.4 ms (2.8x)"
           ]
  end

  test "a flush time that moved by more than 2x either way is flagged" do
    slower = judge(flush: {500.0, 1_400.0})
    refute slower.trusted
    assert_in_delta slower.flush_ratio, 2.8, 1.0e-9
    assert slower.reasons == ["disk flush time moved: 500 µs -> 1.4 ms (2.8x)"]

    faster = judge(flush: {1_400.0, 500.0})
    refute faster.trusted
    assert faster.reasons == ["disk flush time moved: 1.4 ms -> 500 µs (2.8x)"]

    assert judge(flush: {500.0, 1_000.0}).trusted
  end

  test "both reasons are given when both hold" do
    verdict = judge(busy: 1_300, flush: {500.0, 1_400.0})

    refute verdict.trusted
    assert [busy, flush] = verdict.reasons
    assert busy =~ "machine busy"
    assert flush =~ "disk flush time moved"
  end

  test "a missing probe judges only what was measured" do
    verdict = judge(flush: {nil, 900.0})

    assert verdict.trusted
    assert verdict.flush_ratio == nil
  end

  test "the warning line names the section and its reasons; none when trusted" do
    assert Trust.warning("replay", judge()) == nil

    line = Trust.warning("replay", judge(busy: 1_300, flush: {500.0, 1_400.0}))
    assert line =~ ~r/^WARNING \(replay\): machine busy: .*; disk flush time moved: /
    assert String.ends_with?(line, ": ratios may be off")
  end
end
