defmodule BaileysEx.Auth.NIF.Bench.ConditionsTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Bench.Conditions

  test "the 1-minute load average is the first field of /proc/loadavg" do
    assert Conditions.parse_loadavg("3.14 2.00 1.50 2/345 6789\n") == 3.14
    assert Conditions.parse_loadavg("") == nil
    assert Conditions.parse_loadavg("busy 1 2") == nil
  end

  test "busy ticks are user, nice, system, interrupts and steal; idle and iowait are not" do
    text = """
    cpu  100 20 30 400 50 6 7 8 90 0
    cpu0 50 10 15 200 25 3 3 4 45 0
    intr 1 2 3
    """

    assert Conditions.parse_stat(text) == %{busy: 100 + 20 + 30 + 6 + 7 + 8, total: 621}
    # Old kernels have no steal field.
    assert Conditions.parse_stat("cpu 1 2 3 4 5 6 7\n") == %{busy: 19, total: 28}
    assert Conditions.parse_stat("cpu0 1 2 3 4 5 6 7\n") == nil
    assert Conditions.parse_stat("cpu 1 2 x 4 5 6 7\n") == nil
  end

  test "a process's ticks are utime, stime, cutime and cstime, counted from the last )" do
    fields = Enum.map_join(4..13, " ", &Integer.to_string/1)
    text = "123 (beam) (odd name) S #{fields} 1000 200 30 4 20 0 40 0\n"

    assert Conditions.parse_process_ticks(text) == 1234
    assert Conditions.parse_process_ticks("123 (cut short) S 1 2 3\n") == nil
    assert Conditions.parse_process_ticks("no name at all") == nil
  end
end
