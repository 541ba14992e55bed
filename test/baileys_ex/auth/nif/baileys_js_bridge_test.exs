defmodule BaileysEx.Auth.NIF.BaileysJSBridgeTest do
  # The bridge against the real Baileys JS package (test/baileys_js): a
  # folder Baileys itself wrote is imported into each BaileysEx format and
  # exported back, and Baileys JS and its libsignal judge the result.
  use BaileysEx.Auth.NIF.Test.BaileysJSCase, async: false

  alias BaileysEx.Auth.NIF.Test.{
    Backends,
    BaileysJS,
    BaileysJSCase,
    BaileysJSMaterial,
    Fixtures,
    FreshVM
  }

  alias BaileysEx.Auth.NIF.Tools

  for backend <- Backends.all() do
    @backend backend
    # Through ETF everything usable comes back; through BaileysEx's JSON
    # format, what BaileysEx models.
    @round_trip_keeps if(backend.name == :etf, do: :usable, else: :comparable)

    describe "#{backend.title}" do
      setup %{out: out} do
        dir = Path.join(out, "#{@backend.name}-#{System.unique_integer([:positive])}")
        File.mkdir_p!(dir)
        %{dir: dir}
      end

      test "import: BaileysEx loads every key's material as Baileys JS reads it", ctx do
        dst = Path.join(ctx.dir, "imported")
        assert {:ok, report} = Tools.import_baileys(ctx.auth, dst, to: @backend.name)

        key_files = map_size(ctx.files) - 1
        assert report.keys == key_files

        assert [] ==
                 BaileysJSMaterial.differences(
                   BaileysJSMaterial.of_dir(dst, @backend.module),
                   BaileysJSMaterial.comparable(ctx.dump)
                 )

        # Only what the target has no place for is reported (ETF keeps
        # Baileys' own extras), and the source is untouched.
        assert report.unmapped != []

        assert Enum.all?(report.unmapped, &unmapped_ok?(&1, @backend.name)),
               inspect(report.unmapped, pretty: true)

        assert BaileysJSCase.files(ctx.auth) == ctx.files
      end

      test "a fresh VM with only this application's modules loads what was imported", ctx do
        dst = Path.join(ctx.dir, "imported")
        assert {:ok, report} = Tools.import_baileys(ctx.auth, dst, to: @backend.name)
        ebin = FreshVM.lib_only_ebin(ctx.dir)

        # A file must decode without atoms only this VM happens to have.
        script = """
        [dir, module] = System.argv()
        mod = Module.concat([module])
        {:ok, _creds} = mod.load_credentials(dir)
        {:ok, index} = mod.list_persisted_keys(dir)
        loaded = for {type, ids} <- index, id <- ids, do: mod.load_keys(dir, type, id)
        bad = Enum.reject(loaded, &match?({:ok, _}, &1))
        IO.puts("LOADED \#{length(loaded) - length(bad)} " <> inspect(bad, limit: 3))
        """

        {output, status} =
          System.cmd(
            System.find_executable("elixir"),
            ["-pa", ebin, "-e", script, dst, inspect(@backend.module)],
            stderr_to_stdout: true,
            env: [{"ERL_LIBS", nil}, {"ERL_AFLAGS", nil}, {"ERL_ZFLAGS", nil}]
          )

        assert status == 0, output
        assert output =~ "LOADED #{report.keys} []", output
      end

      test "JS -> BaileysEx -> JS: Baileys reads back what it wrote, and the device still talks",
           ctx do
        imported = Path.join(ctx.dir, "imported")
        back = Path.join(ctx.dir, "back")
        assert {:ok, _} = Tools.import_baileys(ctx.auth, imported, to: @backend.name)
        assert {:ok, report} = Tools.export_baileys(imported, back)
        assert report.inexact == []

        dump = BaileysJS.dump!(back)
        project = &apply(BaileysJSMaterial, @round_trip_keeps, [&1])
        assert [] == BaileysJSMaterial.differences(project.(dump), project.(ctx.dump))

        # Every file name comes back the same.
        assert Map.keys(BaileysJSCase.files(back)) == Map.keys(ctx.files)

        # libsignal deserialises the exported sessions and sender keys: each
        # peer's new message decrypts, and the device's replies reach them.
        assert %{"ok" => true} = BaileysJS.peer_decrypt!(back, ctx.peers)
      end

      test "export: Baileys JS reads the material of a directory BaileysEx wrote", ctx do
        src = Path.join(ctx.dir, "fixture")
        File.cp_r!(Fixtures.dir(@backend.name), src)
        js = Path.join(ctx.dir, "js")
        # The fixture's values are made up, so its sessions' local identity
        # is not the one in its creds, which is all libsignal can give back:
        # `inexact` says so, and the material Baileys reads is still all there.
        assert {:ok, _report} = Tools.export_baileys(src, js)

        ours = BaileysJSMaterial.of_dir(src, @backend.module)

        assert [] ==
                 BaileysJSMaterial.differences(
                   BaileysJSMaterial.comparable(BaileysJS.dump!(js)),
                   ours
                 )
      end
    end
  end

  # What Baileys 6.x wrote without its fields, and (JSON only) what only
  # Baileys JS keeps (see BaileysJSMaterial.js_only/0).
  defp unmapped_ok?(%{field: field}, backend) do
    String.ends_with?(field, "senderMessageKeys.*") or
      (backend == :json and
         (String.ends_with?(field, ["indexInfo.used", "indexInfo.created"]) or
            field in ["fingerprint", "timestamp"]))
  end
end
