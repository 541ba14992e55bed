defmodule BaileysEx.Auth.NIF.Reliability.CommitCrashSafetyTest do
  @moduledoc """
  A writer VM is killed with SIGKILL at random moments while it commits
  random sets of saves and deletes (with the credentials now and then) to
  every backend. The next VM to open a directory must find every commit
  whole: all that was acknowledged, and of the commit the kill cut short
  either all or nothing (`CommitCrash`).
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, CommitCrash, CrashHarness, CrashWriter}

  @moduletag timeout: :infinity

  @tag :tmp_dir
  test "SIGKILL during commits: every commit whole, none acknowledged lost", %{tmp_dir: tmp_dir} do
    report = CrashHarness.run(tmp_dir, lanes: 2, rounds: 10, mode: :commits)
    assert_survived(report, 20)
  end

  @tag :stress
  @tag :tmp_dir
  test "a thousand SIGKILLs during commits: every commit whole", %{tmp_dir: tmp_dir} do
    report = CrashHarness.run(tmp_dir, lanes: 2, rounds: 500, mode: :commits)
    assert_survived(report, 1_000)
  end

  @tag :tmp_dir
  test "the check notices a lost commit, half a commit and a torn file", %{tmp_dir: tmp_dir} do
    for backend <- Backend.all() do
      dir = Path.join(tmp_dir, Atom.to_string(backend.name))
      File.mkdir_p!(dir)
      m = backend.module
      # A commit of at least two saves.
      seq =
        Enum.find(
          1..1000,
          &(Enum.count(CrashWriter.commit_items(&1), fn i -> i =~ ~r/^\+\w/ end) >= 2)
        )

      empty = CommitCrash.empty_state()
      full = CommitCrash.after_commit(empty, seq)

      lane = fn states, next ->
        %{
          dirs: [{backend, dir}],
          expected: %{states: %{Atom.to_string(backend.name) => states}, next: next},
          problems: []
        }
      end

      # Before commit `seq`, or after it; not after it once it was acknowledged.
      assert {[], 0} = CommitCrash.check_in_fresh_vm(lane.(empty, seq))
      assert {[lost], 0} = CommitCrash.check_in_fresh_vm(lane.(full, seq + 1))
      assert lost =~ "not the acknowledged state"

      {changes, opts} = CrashWriter.commit_changes(backend, seq)
      [{type, entries} | _] = for {type, entries} <- changes, entries != %{}, do: {type, entries}
      [{id, value} | _] = for {id, value} <- entries, value != nil, do: {id, value}
      assert :ok = m.save_keys(dir, type, id, value)
      assert {[half], 0} = CommitCrash.check_in_fresh_vm(lane.(empty, seq))
      assert half =~ "nor it with the commits after it whole"

      assert :ok = m.commit(dir, changes, opts)
      assert {[], 0} = CommitCrash.check_in_fresh_vm(lane.(empty, seq))

      assert CommitCrash.torn_files([{backend, dir}]) == []
      file = Path.join(dir, "#{type}-#{id}#{backend.ext}")
      bytes = File.read!(file)
      File.write!(file, binary_part(bytes, 0, div(byte_size(bytes), 2)))
      assert [torn] = CommitCrash.torn_files([{backend, dir}])
      assert torn =~ "does not decode"
    end
  end

  defp assert_survived(report, kills) do
    IO.puts(
      "\ncommit crash safety: #{report.kills} SIGKILLs survived, #{report.acked} acknowledged commits, " <>
        "#{report.in_flight} kills with a commit in flight; the next VM found commits after " <>
        "the last acknowledged one applied #{report.rolled_forward} times, the one in flight " <>
        "not applied #{report.rolled_back} times, never half of one; " <>
        "#{report.keys_checked} key checks, " <>
        "#{report.orphans_seen} temp files seen after kills (#{report.orphans_removed} left for " <>
        "the final fresh VM, which removed them), " <>
        "#{length(report.problems) + length(report.fresh_vm)} problems"
    )

    assert report.problems == []
    assert report.fresh_vm == []
    assert report.kills == kills
    assert report.acked > kills, "the writers must get real work done between kills"
    assert report.in_flight * 2 > kills, "most kills should land during a commit"
  end
end
