defmodule BaileysEx.Auth.NIF.BaileysJS7BridgeTest do
  # The bridge against the real Baileys 7.x package (test/baileys_js7): a
  # folder 7.x's own code wrote is imported and exported back, and a
  # BaileysEx directory exported with `baileys: 7` is read by 7.x's own
  # useMultiFileAuthState, SenderKeyRecord and libsignal, and imports back.
  use BaileysEx.Auth.NIF.Test.BaileysJSCase, async: false, baileys: 7

  alias BaileysEx.Auth.NIF.Test.{Backends, BaileysJS, BaileysJSCase, BaileysJSMaterial, Fixtures}
  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.JSON

  @sender_keys [
    "120363000000000001@g.us::15550001000::7",
    "120363000000000001@g.us::15550002001::0"
  ]

  test "generate.mjs ran the real Baileys 7.0.0-rc.9; its sender keys are Buffers of JSON", ctx do
    assert %{"ok" => true, "baileys" => "7.0.0-rc.9", "checks" => [_, _, _]} = ctx.summary
    assert Enum.sort(Map.keys(ctx.dump["keys"]["sender-key"])) == @sender_keys

    for {name, bytes} <- ctx.files, String.starts_with?(name, "sender-key-1") do
      assert {:ok, %{"type" => "Buffer", "data" => data}} = JSON.decode(bytes)

      assert {:ok, [%{"senderChainKey" => %{"seed" => seed}} | _]} =
               JSON.decode(Base.decode64!(data))

      assert %{"type" => "Buffer", "data" => [_ | _]} = seed
    end

    # The member's key kept the message keys the device skipped, seeds and all.
    member = ctx.dump["keys"]["sender-key"]["120363000000000001@g.us::15550002001::0"]
    assert [%{"senderMessageKeys" => [_, _ | _] = skipped}] = member["states"]
    assert Enum.all?(skipped, &(byte_size(&1["seed"]) == 64))
    assert ctx.dump["creds"]["signalIdentities"] != nil
  end

  for backend <- Backends.all() do
    @backend backend
    @round_trip_keeps if(backend.name == :etf, do: :usable, else: :comparable)

    describe "#{backend.title}, a folder 7.x wrote" do
      setup %{out: out} do
        dir = Path.join(out, "#{@backend.name}-own-#{System.unique_integer([:positive])}")
        File.mkdir_p!(dir)
        %{dir: dir}
      end

      test "import: BaileysEx loads every key's material as Baileys 7 reads it", ctx do
        dst = Path.join(ctx.dir, "imported")
        assert {:ok, report} = Tools.import_baileys(ctx.auth, dst, to: @backend.name)
        assert report.keys == map_size(ctx.files) - 1 and report.inexact == []
        refute Enum.any?(report.unmapped, &String.starts_with?(&1.file, "sender-key-"))

        assert [] ==
                 BaileysJSMaterial.differences(
                   BaileysJSMaterial.of_dir(dst, @backend.module),
                   BaileysJSMaterial.comparable(ctx.dump)
                 )
      end

      test "7.x -> BaileysEx -> 7.x: Baileys 7 reads back what it wrote", ctx do
        imported = Path.join(ctx.dir, "imported")
        back = Path.join(ctx.dir, "back")
        assert {:ok, _} = Tools.import_baileys(ctx.auth, imported, to: @backend.name)
        assert {:ok, report} = Tools.export_baileys(imported, back, baileys: 7)
        assert report.inexact == []

        project = &apply(BaileysJSMaterial, @round_trip_keeps, [&1])
        dump = BaileysJS.dump!(back, 7)
        assert [] == BaileysJSMaterial.differences(project.(dump), project.(ctx.dump))
        assert Map.keys(BaileysJSCase.files(back)) == Map.keys(ctx.files)
      end
    end

    describe "#{backend.title}, a fixture directory" do
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
