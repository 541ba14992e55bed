defmodule BaileysEx.Auth.NIF.EtfGoldenTest do
  @moduledoc """
  Checks the ETF backend against files written by the real BaileysEx
  `NativeFilePersistence` (fixtures set_a).
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.Fixtures

  @manifest Backends.fetch!(:etf).manifest_file
  @otp_release List.to_string(:erlang.system_info(:otp_release))
  @fixture_otp "25"

  describe "loading the fixture directory" do
    @tag :tmp_dir
    test "every key and the credentials load exactly as expected.etf", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:etf, tmp_dir)
      before = dir_contents(dir)
      expected = Fixtures.expected()

      assert {:ok, creds} = Persistence.load_credentials(dir)
      assert creds == expected.creds

      loaded =
        for {{type, id} = key, _value} <- expected.keys, into: %{} do
          assert {:ok, value} = Persistence.load_keys(dir, type, id),
                 "load_keys(#{inspect(type)}, #{inspect(id)})"

          {key, value}
        end

      assert map_size(expected.keys) > 20
      assert loaded == expected.keys

      assert dir_contents(dir) == before, "loading must not change any file"
    end

    @tag :tmp_dir
    test "list_persisted_keys equals the real backend's listing", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:etf, tmp_dir)
      assert Persistence.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().etf}
    end

    @tag :tmp_dir
    test "every listed id loads, phantom spellings included", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:etf, tmp_dir)
      expected = Fixtures.expected()

      for {type, ids} <- Fixtures.expected_index().etf, id <- ids do
        assert {:ok, value} = Persistence.load_keys(dir, type, id)

        if Map.has_key?(expected.keys, {type, id}) do
          assert value == expected.keys[{type, id}]
        end
      end
    end
  end

  describe "replaying ops.etf into an empty directory" do
    @tag :tmp_dir
    test "writes the same file set with the same decoded content", %{tmp_dir: tmp_dir} do
      dir = replay(tmp_dir)
      fixture = dir_contents(Fixtures.dir(:etf))
      written = dir_contents(dir)

      assert Map.keys(written) == Map.keys(fixture)
      assert @manifest in Map.keys(written)

      for {name, bytes} <- fixture do
        assert decode(written[name]) == decode(bytes), "decoded content of #{name}"
      end

      assert Persistence.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().etf}
    end

    if List.to_string(:erlang.system_info(:otp_release)) != "25" do
      @tag skip:
             "etf/ fixtures were written on OTP 25; OTP #{@otp_release} encodes atoms " <>
               "differently, so bytes are not comparable (decoded terms are compared above)"
    end

    @tag :tmp_dir
    test "writes every file byte-identical to the real backend", %{tmp_dir: tmp_dir} do
      assert @otp_release == @fixture_otp
      dir = replay(tmp_dir)
      fixture = dir_contents(Fixtures.dir(:etf))
      written = dir_contents(dir)

      assert Map.keys(written) == Map.keys(fixture)

      for {name, bytes} <- fixture do
        assert written[name] == bytes, "bytes of #{name}"
      end
    end

    @tag :tmp_dir
    test "the replayed directory loads back exactly", %{tmp_dir: tmp_dir} do
      dir = replay(tmp_dir)
      expected = Fixtures.expected()

      assert Persistence.load_credentials(dir) == {:ok, expected.creds}

      for {{type, id}, value} <- expected.keys do
        assert Persistence.load_keys(dir, type, id) == {:ok, value}
      end
    end
  end

  describe "a fresh VM" do
    @tag :tmp_dir
    test "loads every fixture file with only this application's modules available", %{
      tmp_dir: tmp_dir
    } do
      dir = Fixtures.copy_to_tmp(:etf, tmp_dir)
      {bad_dir, atom_name} = unknown_atom_dir(tmp_dir)
      ebin = lib_only_ebin(tmp_dir)

      script = """
      [dir, expected_path, bad_dir, atom_name] = System.argv()
      mod = Module.concat(["BaileysEx", "Auth", "NIF", "NativeFilePersistence"])

      absent? = fn name ->
        try do
          _ = String.to_existing_atom(name)
          false
        rescue
          ArgumentError -> true
        end
      end

      IO.puts("PRE_ABSENT " <> inspect(Enum.all?(["key_id", "key_pair"], absent?)))
      IO.puts("STATE_LOADED " <> inspect(:code.is_loaded(Module.concat(["BaileysEx", "Auth", "State"])) != false))

      {:ok, creds} = mod.load_credentials(dir)
      {:ok, index} = mod.list_persisted_keys(dir)

      loaded =
        for {type, ids} <- index, id <- ids, into: %{} do
          {:ok, value} = mod.load_keys(dir, type, id)
          {{type, id}, value}
        end

      refused = mod.load_keys(bad_dir, String.to_atom("device-list"), "x")
      IO.puts("UNKNOWN_REFUSED " <> inspect(match?({:error, %ArgumentError{}}, refused)))
      IO.puts("UNKNOWN_STILL_ABSENT " <> inspect(absent?.(atom_name)))

      expected = expected_path |> File.read!() |> :erlang.binary_to_term()
      IO.puts("CREDS " <> inspect(creds == expected.creds))

      matching = Enum.count(expected.keys, fn {key, value} -> Map.fetch(loaded, key) == {:ok, value} end)
      IO.puts("KEYS \#{matching}/\#{map_size(expected.keys)}")
      IO.puts("DONE")
      """

      expected_path = Path.join(Fixtures.root(), "expected.etf")
      count = map_size(Fixtures.expected().keys)

      {output, status} =
        System.cmd(
          System.find_executable("elixir"),
          ["-pa", ebin, "-e", script, dir, expected_path, bad_dir, atom_name],
          cd: tmp_dir,
          stderr_to_stdout: true,
          env: [{"ERL_LIBS", nil}, {"ERL_AFLAGS", nil}, {"ERL_ZFLAGS", nil}]
        )

      assert status == 0, output
      lines = String.split(output, "\n", trim: true)

      assert "PRE_ABSENT true" in lines, output
      assert "STATE_LOADED false" in lines, output
      assert "CREDS true" in lines, output
      assert "KEYS #{count}/#{count}" in lines, output
      assert "UNKNOWN_REFUSED true" in lines, output
      assert "UNKNOWN_STILL_ABSENT true" in lines, output
      assert "DONE" in lines, output
    end

    @tag :tmp_dir
    test "an atom this VM has never seen is refused, not created", %{tmp_dir: tmp_dir} do
      {bad_dir, atom_name} = unknown_atom_dir(tmp_dir)
      assert_raise ArgumentError, fn -> String.to_existing_atom(atom_name) end

      assert {:error, %ArgumentError{}} = Persistence.load_keys(bad_dir, :"device-list", "x")

      assert_raise ArgumentError, fn -> String.to_existing_atom(atom_name) end
    end
  end

  # A directory holding `device-list-x.etf` whose content is an atom that exists
  # nowhere: the ETF bytes are built by hand so that the atom is not created here.
  defp unknown_atom_dir(tmp_dir) do
    atom_name = "bx_never_created_" <> Base.encode16(:crypto.strong_rand_bytes(12), case: :lower)
    bad_dir = Path.join(tmp_dir, "unknown_atom")
    File.mkdir_p!(bad_dir)

    File.write!(
      Path.join(bad_dir, "device-list-x.etf"),
      <<131, 119, byte_size(atom_name), atom_name::binary>>
    )

    {bad_dir, atom_name}
  end

  defp lib_only_ebin(tmp_dir) do
    ebin = BaileysEx.Auth.NIF.Test.FreshVM.lib_only_ebin(tmp_dir)
    assert File.exists?(Path.join(ebin, "Elixir.BaileysEx.Auth.NIF.NativeFilePersistence.beam"))
    refute File.exists?(Path.join(ebin, "Elixir.BaileysEx.Auth.State.beam"))
    ebin
  end

  defp replay(tmp_dir) do
    dir = Path.join(tmp_dir, "replayed")

    for op <- Fixtures.ops() do
      case op do
        {:creds, state} ->
          assert :ok = Persistence.save_credentials(dir, state)

        {:save, type, id, value, note} ->
          assert :ok = Persistence.save_keys(dir, type, id, value), inspect(note)

        {:delete, type, id, note} ->
          assert :ok = Persistence.delete_keys(dir, type, id), inspect(note)
      end
    end

    dir
  end

  defp decode(bytes), do: :erlang.binary_to_term(bytes)

  defp dir_contents(dir) do
    for name <- File.ls!(dir), into: %{} do
      {name, File.read!(Path.join(dir, name))}
    end
  end
end
