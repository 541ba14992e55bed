defmodule BaileysEx.Auth.NIF.BaileysJS7BridgeTest do
  # The bridge against the real Baileys 7.x package (test/baileys_js7): a
  # BaileysEx directory exported with `baileys: 7` is read by Baileys 7's own
  # useMultiFileAuthState, SenderKeyRecord and libsignal, and what it wrote
  # imports back.
  use BaileysEx.Auth.NIF.Test.BaileysJSCase, async: false, baileys: 7

  alias BaileysEx.Auth.NIF.Test.{Backends, BaileysJS, BaileysJSMaterial, Fixtures}
  alias BaileysEx.Auth.NIF.Tools

  for backend <- Backends.all() do
    @backend backend

    describe "#{backend.title}" do
      setup %{out: out} do
        dir = Path.join(out, "#{@backend.name}-#{System.unique_integer([:positive])}")
        src = Path.join(dir, "fixture")
        File.mkdir_p!(dir)
        File.cp_r!(Fixtures.dir(@backend.name), src)
        %{dir: dir, src: src, ours: BaileysJSMaterial.of_dir(src, @backend.module)}
      end

      test "export: Baileys 7 reads all the material, sender message keys included", ctx do
        js = Path.join(ctx.dir, "js")
        assert {:ok, report} = Tools.export_baileys(ctx.src, js, baileys: 7)
        assert report.baileys == 7

        dump = BaileysJS.dump!(js, 7)
        assert [] == BaileysJSMaterial.differences(BaileysJSMaterial.comparable(dump), ctx.ours)

        # Nothing was left out to make that so: every message key the
        # directory holds is in what Baileys 7 read, seed and all.
        message_keys = fn doc ->
          for {_id, %{"states" => states}} <- doc["keys"]["sender-key"],
              state <- states,
              mk <- state["senderMessageKeys"],
              do: mk
        end

        theirs = message_keys.(dump)
        assert theirs != [] and theirs == message_keys.(ctx.ours)
        assert Enum.all?(theirs, &(is_integer(&1["iteration"]) and byte_size(&1["seed"]) == 64))

        # 7.x's own types, in the shapes its SignalDataTypeMap gives them.
        keys = dump["keys"]
        assert Enum.all?(Map.values(keys["lid-mapping"]), &is_binary/1)

        assert Enum.all?(
                 Map.values(keys["device-list"]),
                 &Enum.all?(&1, fn d -> is_binary(d) end)
               )

        for {_jid, token} <- keys["tctoken"] do
          assert token["timestamp"] =~ ~r/\A\d+\z/
          assert token["token"] =~ ~r/\A(?:[0-9a-f]{2})+\z/
        end
      end

      test "what was exported for 7.x imports back to the same material", ctx do
        js = Path.join(ctx.dir, "js")
        back = Path.join(ctx.dir, "back")
        assert {:ok, _} = Tools.export_baileys(ctx.src, js, baileys: 7)
        assert {:ok, report} = Tools.import_baileys(js, back, to: @backend.name)
        assert report.inexact == []
        refute Enum.any?(report.unmapped, &String.starts_with?(&1.file, "sender-key-"))

        dump = BaileysJSMaterial.comparable(BaileysJS.dump!(js, 7))
        ours = BaileysJSMaterial.of_dir(back, @backend.module)
        assert [] == BaileysJSMaterial.differences(dump, ours)
        assert [] == BaileysJSMaterial.differences(ours, ctx.ours)
      end

      test "Baileys 7 cannot read the sender keys of a 6.x export", ctx do
        js = Path.join(ctx.dir, "js6")
        assert {:ok, %{baileys: 6}} = Tools.export_baileys(ctx.src, js)

        assert_raise RuntimeError, ~r/dump\.mjs exited with status 1.*SenderKeyRecord/s, fn ->
          BaileysJS.dump!(js, 7)
        end
      end
    end
  end
end
