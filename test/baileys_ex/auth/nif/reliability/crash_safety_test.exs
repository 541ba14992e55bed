defmodule BaileysEx.Auth.NIF.Reliability.CrashSafetyTest do
  @moduledoc """
  A writer VM is killed with SIGKILL at random moments while it saves keys
  and credentials to every backend; nothing it acknowledged may be lost or
  torn, and a fresh VM must read everything and clean up the orphans.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, CrashHarness, CrashWriter}

  @moduletag timeout: :infinity

  @tag :tmp_dir
  test "SIGKILL at random moments loses no acknowledged write", %{tmp_dir: tmp_dir} do
    report = CrashHarness.run(tmp_dir, lanes: 2, rounds: 30)
    assert_survived(report, 60)
  end

  @tag :stress
  @tag :tmp_dir
  test "a thousand SIGKILLs lose no acknowledged write", %{tmp_dir: tmp_dir} do
    report = CrashHarness.run(tmp_dir, lanes: 2, rounds: 550)
    assert_survived(report, 1_100)
  end

  @tag :tmp_dir
  test "the check notices lost, stale, torn and unlisted writes", %{tmp_dir: tmp_dir} do
    for backend <- Backend.all() do
      dir = Path.join(tmp_dir, Atom.to_string(backend.name))
      [{type, id} = key | _] = CrashWriter.keys()
      label = CrashWriter.key_label(key)
      name = Atom.to_string(backend.name)
      dirs = [{backend, dir}]

      assert :ok = backend.module.save_keys(dir, type, id, Backend.key_value(backend, id, 5))
      assert :ok = backend.module.save_credentials(dir, Backend.creds(9))
      assert {[], _} = CrashHarness.check(dirs, %{{name, label} => 5, {name, "creds"} => 9})

      assert {[stale], _} = CrashHarness.check(dirs, %{{name, label} => 6})
      assert stale =~ "went back from 6 to 5"

      assert {[lost], _} = CrashHarness.check(dirs, %{{name, "device-list/k2"} => 1})
      assert lost =~ "lost"

      file = Path.join(dir, "#{type}-#{id}#{backend.ext}")
      bytes = File.read!(file)
      File.write!(file, binary_part(bytes, 0, div(byte_size(bytes), 2)))
      assert {problems, _} = CrashHarness.check(dirs, %{})
      assert Enum.any?(problems, &(&1 =~ "does not decode")), inspect(problems)

      File.write!(file, bytes)
      manifest = Path.join(dir, backend.manifest_file)
      File.rm!(manifest)

      assert :ok =
               backend.module.save_keys(
                 dir,
                 :"lid-mapping",
                 "k1",
                 Backend.key_value(backend, "k1", 1)
               )

      assert {[unlisted], _} = CrashHarness.check(dirs, %{{name, label} => 5})
      assert unlisted =~ "not in the manifest"
    end
  end

  defp assert_survived(report, kills) do
    IO.puts(
      "\ncrash safety: #{report.kills} SIGKILLs survived, #{report.acked} acknowledged saves, " <>
        "#{report.in_flight} kills with a save in flight, #{report.keys_checked} key checks, " <>
        "#{report.orphans_seen} kills left a temp file (each removed by the next VM to open the " <>
        "directory; #{report.orphans_removed} by the final fresh VM), " <>
        "#{length(report.problems) + length(report.fresh_vm)} problems"
    )

    assert report.problems == []
    assert report.fresh_vm == []
    assert report.kills == kills
    assert report.acked > kills, "the writers must get real work done between kills"
    assert report.in_flight * 2 > kills, "most kills should land during a save"
  end
end
