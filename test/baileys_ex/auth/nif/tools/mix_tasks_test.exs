defmodule BaileysEx.Auth.NIF.Tools.MixTasksTest do
  @moduledoc "The three Mix tasks: output, exit status, --help."
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias Mix.Tasks.BaileysExNif.{Inspect, Migrate, Verify}

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
  end

  test "verify: zero status for an intact directory, one for damage, naming the file" do
    Verify.run([Fixtures.dir(:etf)])
    assert_received {:mix_shell, :info, [report]}
    assert report =~ "0 errors"
    assert report =~ ": OK"
  end

  @tag :tmp_dir
  test "verify exits 1 on damage and names the file", %{tmp_dir: tmp} do
    dir = Fixtures.copy_to_tmp(:json, tmp)
    File.write!(Path.join(dir, "pre-key-2.json"), "{\"private\":")

    assert catch_exit(Verify.run([dir, "--backend", "json"])) == {:shutdown, 1}
    assert_received {:mix_shell, :info, [report]}
    assert report =~ "ERROR pre-key-2.json: does not decode"
    assert report =~ "DAMAGED"
  end

  test "--help prints the task's documentation" do
    for task <- [Verify, Migrate, Inspect] do
      assert catch_exit(task.run(["--help"])) == {:shutdown, 0}
      assert_received {:mix_shell, :info, [doc]}
      assert doc =~ "mix baileys_ex_nif."
    end
  end

  @tag :tmp_dir
  test "migrate prints what was converted and refuses a used target", %{tmp_dir: tmp} do
    target = Path.join(tmp, "dst")
    Migrate.run([Fixtures.dir(:etf), target, "--to", "json"])
    assert_received {:mix_shell, :info, [out]}
    assert out =~ "creds and 24 keys"
    assert out =~ "session: 2 key(s) etf -> json"
    assert out =~ "3 value(s) json cannot hold exactly"

    assert_raise Mix.Error, ~r/target_not_empty/, fn ->
      Migrate.run([Fixtures.dir(:etf), target, "--to", "json"])
    end
  end

  test "inspect: summary, a type, a masked key" do
    dir = Fixtures.dir(:etf)
    Inspect.run([dir])
    assert_received {:mix_shell, :info, [summary]}
    assert summary =~ ~r/session\s+2 files/
    assert summary =~ "platform=\"smba\""

    Inspect.run([dir, "pre-key", "1"])
    assert_received {:mix_shell, :info, [value]}
    assert value =~ "private: \"(masked: 32 bytes)\""

    assert_raise Mix.Error, ~r/unknown key type/, fn -> Inspect.run([dir, "nope"]) end
  end
end
