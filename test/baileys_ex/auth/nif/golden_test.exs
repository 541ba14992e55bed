defmodule BaileysEx.Auth.NIF.GoldenTest do
  @moduledoc """
  Both backends against the directories the real BaileysEx backends wrote
  (fixtures set_a), written once and run per backend
  (`BaileysEx.Auth.NIF.Test.Backends`): the fixture directory loads exactly
  and lists as the real backend listed it, and replaying ops.etf into an
  empty directory writes the same files. What only one format has is in
  `etf_golden_test.exs` and `json_golden_test.exs`.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DirSnapshot
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Test.Golden

  for backend <- Backends.all() do
    describe "#{backend.title}: loading the fixture directory" do
      @describetag :tmp_dir
      @describetag backend: backend

      test "the credentials and every key load exactly as expected", ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: tmp_dir} = ctx
        dir = Fixtures.copy_to_tmp(kind, tmp_dir)
        before = DirSnapshot.take(dir)
        expected = Fixtures.expected(kind)

        assert {:ok, creds} = m.load_credentials(dir)
        assert creds == expected.creds

        loaded =
          for {{type, id} = key, _value} <- expected.keys, into: %{} do
            assert {:ok, value} = m.load_keys(dir, type, id),
                   "load_keys(#{inspect(type)}, #{inspect(id)})"

            {key, value}
          end

        assert map_size(expected.keys) > 20
        assert loaded == expected.keys

        assert DirSnapshot.take(dir) == before, "loading must not change any file"
      end

      test "list_persisted_keys equals the real backend's listing", ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: tmp_dir} = ctx
        dir = Fixtures.copy_to_tmp(kind, tmp_dir)
        assert m.list_persisted_keys(dir) == {:ok, Map.fetch!(Fixtures.expected_index(), kind)}
      end

      test "every listed id loads, phantom spellings included", ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: tmp_dir} = ctx
        dir = Fixtures.copy_to_tmp(kind, tmp_dir)
        expected = Fixtures.expected(kind)

        for {type, ids} <- Map.fetch!(Fixtures.expected_index(), kind), id <- ids do
          assert {:ok, value} = m.load_keys(dir, type, id)

          if Map.has_key?(expected.keys, {type, id}) do
            assert value == expected.keys[{type, id}]
          end
        end
      end
    end

    describe "#{backend.title}: replaying ops.etf into an empty directory" do
      @describetag :tmp_dir
      @describetag backend: backend

      test "writes the same file set with the same decoded content", ctx do
        %{backend: %{module: m, name: kind} = backend, tmp_dir: tmp_dir} = ctx
        dir = Golden.replay(m, Path.join(tmp_dir, "replayed"))
        fixture = DirSnapshot.take(Fixtures.dir(kind))
        written = DirSnapshot.take(dir)

        assert Enum.sort(Map.keys(written)) == Enum.sort(Map.keys(fixture))
        assert backend.manifest_file in Map.keys(written)

        for {name, bytes} <- fixture do
          assert Golden.decode(kind, written[name]) == Golden.decode(kind, bytes),
                 "decoded content of #{name}"
        end
      end

      test "the replayed directory loads back exactly and lists like the real backend", ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: tmp_dir} = ctx
        dir = Golden.replay(m, Path.join(tmp_dir, "replayed"))

        Golden.assert_loads(m, dir, Fixtures.expected(kind))
        assert m.list_persisted_keys(dir) == {:ok, Map.fetch!(Fixtures.expected_index(), kind)}
      end
    end
  end
end
