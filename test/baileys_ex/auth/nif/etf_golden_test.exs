defmodule BaileysEx.Auth.NIF.EtfGoldenTest do
  @moduledoc """
  What only the ETF backend has against files written by the real BaileysEx
  `NativeFilePersistence` (fixtures set_a): byte-identical files and loading
  in a fresh VM without creating atoms. Loading and replaying, shared with
  the JSON backend, are in `golden_test.exs`.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.DirSnapshot
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Test.FreshVM
  alias BaileysEx.Auth.NIF.Test.Golden

  @otp_release List.to_string(:erlang.system_info(:otp_release))
  @fixture_otp "25"

  describe "replaying ops.etf into an empty directory" do
    if List.to_string(:erlang.system_info(:otp_release)) != "25" do
      @tag skip:
             "etf/ fixtures were written on OTP 25; OTP #{@otp_release} encodes atoms " <>
               "differently, so bytes are not comparable (golden_test.exs compares decoded terms)"
    end

    @tag :tmp_dir
    test "writes every file byte-identical to the real backend", %{tmp_dir: tmp_dir} do
      assert @otp_release == @fixture_otp
      dir = Golden.replay(Persistence, Path.join(tmp_dir, "replayed"))
      fixture = DirSnapshot.take(Fixtures.dir(:etf))
      written = DirSnapshot.take(dir)

      assert Map.keys(written) == Map.keys(fixture)

      for {name, bytes} <- fixture do
        assert written[name] == bytes, "bytes of #{name}"
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
      ebin = FreshVM.lib_only_ebin(tmp_dir, Persistence)

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

      args = [dir, expected_path, bad_dir, atom_name]
      {output, lines} = FreshVM.run!(tmp_dir, ebin, script, args)

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
end
