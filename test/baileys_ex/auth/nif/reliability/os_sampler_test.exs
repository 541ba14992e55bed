defmodule BaileysEx.Auth.NIF.Reliability.OsSamplerTest do
  @moduledoc """
  How `OsSampler` accounts for a late tick, on made-up samples: only time
  the host took (a stopped machine, or stolen CPU) is left out.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.OsSampler

  # {wall µs, [{thread, ran ns, waited ns}], steal ticks per CPU, sampler waited ns}
  defp sample(at_ms, ran_ms, waited_ms, steal, sampler_waited_ms) do
    {at_ms * 1000, [{"1_scheduler", ran_ms * 1_000_000, waited_ms * 1_000_000}], steal,
     sampler_waited_ms * 1_000_000}
  end

  # A tick from 0.5 ms to 31.5 ms, the thread's and the sampler's counters
  # having moved by the end. With a gap the sampler took no sample from 1 to
  # 31 ms; otherwise one every millisecond.
  defp late_tick(layout, {ran, waited}, steal_after, sampler_waited_after) do
    times = if layout == :gap, do: [0, 1, 31, 32], else: Enum.to_list(0..32)

    samples =
      Enum.map(times, fn
        0 -> sample(0, 0, 0, Enum.map(steal_after, fn _ -> 0 end), 0)
        t -> sample(t, ran, waited, steal_after, sampler_waited_after)
      end)

    [account] = OsSampler.attribute(samples, [{500, 31_500, 1}])
    account
  end

  # {what, layout, thread {ran, waited} ms, steal ticks per CPU, sampler
  # waited ms, expected account}
  @cases [
    {"asleep while the machine stopped: the host's", :gap, {0, 0}, [0, 0], 0,
     %{late_ms: 31.0, machine_stopped_ms: 28.0, vm_ms: 3.0}},
    {"waiting for a CPU while the machine stopped: the host's", :gap, {0, 31}, [0, 0], 0,
     %{machine_stopped_ms: 28.0, stolen_ms: 0.0, vm_ms: 3.0}},
    {"a sampler kept waiting for a CPU shows no stop", :gap, {0, 31}, [0, 0], 29,
     %{machine_stopped_ms: 0.0, vm_ms: 31.0}},
    {"running counts against the VM, stop or not", :gap, {31, 0}, [0, 0], 0,
     %{ran_ms: 31.0, machine_stopped_ms: 0.0, vm_ms: 31.0}},
    {"waiting for a CPU counts, except what the host stole", :dense, {0, 31}, [0, 2], 0,
     %{waited_ms: 31.0, stolen_ms: 20.0, machine_stopped_ms: 0.0, vm_ms: 11.0}},
    {"asleep while the machine ran: blocked, counts", :dense, {0, 0}, [0, 0], 0,
     %{machine_stopped_ms: 0.0, vm_ms: 31.0}}
  ]

  for {what, layout, thread, steal, sampler_waited, expected} <- @cases do
    test what do
      account =
        late_tick(unquote(layout), unquote(thread), unquote(steal), unquote(sampler_waited))

      assert Map.take(account, Map.keys(unquote(Macro.escape(expected)))) ==
               unquote(Macro.escape(expected))
    end
  end

  test "a thread the sampler never saw explains nothing" do
    samples = [sample(0, 0, 0, [0], 0), sample(40, 0, 0, [0], 0)]
    [account] = OsSampler.attribute(samples, [{500, 31_500, 2}])
    assert account.vm_ms == 31.0
  end
end
