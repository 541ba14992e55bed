defmodule BaileysEx.Auth.NIF.Tools.MixTasksTest do
  @moduledoc "The Mix tasks: output, exit status, --help."
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Tools.JSON
  alias Mix.Tasks.BaileysExNif.{ExportBaileys, ImportBaileys, Inspect, Migrate, Verify}

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
    for task <- [Verify, Migrate, Inspect, ImportBaileys, ExportBaileys] do
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

  # A folder Baileys JS 6.17.16 wrote (made-up keys), committed with its harness.
  @baileys_js_sample Path.expand("../../../../baileys_js/sample/auth", __DIR__)

  @tag :tmp_dir
  test "import_baileys and export_baileys print what moved and what had no place", %{
    tmp_dir: tmp
  } do
    ex = Path.join(tmp, "ex")
    ImportBaileys.run([@baileys_js_sample, ex, "--to", "json"])
    assert_received {:mix_shell, :info, [out]}
    assert out =~ "(json): creds and 39 keys"
    assert out =~ "session: 4 key(s)"
    assert out =~ "no file of: lid-mapping, device-list, tctoken, identity-key"
    assert out =~ "0.senderMessageKeys.*: Baileys 6.x wrote it without its seed"
    assert out =~ "indexInfo.used"

    js = Path.join(tmp, "js")
    ExportBaileys.run([ex, js])
    assert_received {:mix_shell, :info, [out]}
    assert out =~ "creds and 39 keys"
    assert out =~ "for Baileys 6.x"
    assert File.regular?(Path.join(js, "session-15550002003.4.json"))

    js7 = Path.join(tmp, "js7")
    ExportBaileys.run([ex, js7, "--baileys", "7"])
    assert_received {:mix_shell, :info, [out]}
    assert out =~ "for Baileys 7.x: creds and 39 keys"
    sender_key = "sender-key-120363000000000001@g.us--15550002001--0.json"
    assert {:ok, %{"type" => "Buffer"}} = JSON.decode(File.read!(Path.join(js7, sender_key)))
    assert {:ok, [_ | _]} = JSON.decode(File.read!(Path.join(js, sender_key)))

    assert_raise Mix.Error, ~r/--baileys must be 6 or 7/, fn ->
      ExportBaileys.run([ex, Path.join(tmp, "js8"), "--baileys", "8"])
    end

    refute File.exists?(Path.join(tmp, "js8"))

    assert_raise Mix.Error, ~r/target_not_empty.*nothing was written/, fn ->
      ImportBaileys.run([@baileys_js_sample, ex])
    end

    assert_raise Mix.Error, ~r/usage: mix baileys_ex_nif.export_baileys/, fn ->
      ExportBaileys.run([ex])
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
