defmodule BaileysEx.Auth.NIF.JsonGoldenTest do
  @moduledoc """
  What only the JSON backend has against files written by the real BaileysEx
  `FilePersistence` (fixtures set_a: `json/`, `json_legacy/`) and against the
  pure-Elixir twin of the original. Loading `json/` and replaying ops.etf,
  shared with the ETF backend, are in `golden_test.exs`.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Baseline.FilePersistence, as: Baseline
  alias BaileysEx.Auth.NIF.FilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DirSnapshot
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Test.Golden

  @manifest Backends.fetch!(:json).manifest_file

  describe "loading the json/ fixture directory" do
    test "every file in json/ is the credentials, the manifest or an expected key" do
      expected = Fixtures.expected_json()

      names =
        for {type, id} <- Map.keys(expected.keys), into: MapSet.new(["creds.json", @manifest]) do
          file_name(type, id)
        end

      assert MapSet.new(File.ls!(Fixtures.dir(:json))) == names
    end
  end

  describe "loading the json_legacy/ samples" do
    @tag :tmp_dir
    test "the credentials and every key load exactly as expected_legacy.etf", %{
      tmp_dir: tmp_dir
    } do
      dir = Fixtures.copy_to_tmp(:json_legacy, tmp_dir)
      before = DirSnapshot.take(dir)

      Golden.assert_loads(Persistence, dir, Fixtures.expected_legacy())

      assert DirSnapshot.take(dir) == before, "loading must not change any file"
    end

    test "every file in json_legacy/ is the credentials or an expected key" do
      expected = Fixtures.expected_legacy()

      names =
        for {type, id} <- Map.keys(expected.keys), into: MapSet.new(["creds.json"]) do
          file_name(type, id)
        end

      assert map_size(expected.keys) == 12
      assert MapSet.new(File.ls!(Fixtures.dir(:json_legacy))) == names
    end

    @tag :tmp_dir
    test "list_persisted_keys equals the recorded index", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:json_legacy, tmp_dir)
      assert Persistence.list_persisted_keys(dir) == {:ok, Fixtures.expected_legacy().index}
    end

    @tag :tmp_dir
    test "ours and the baseline read the legacy samples alike", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:json_legacy, tmp_dir)

      assert Persistence.load_credentials(dir) == Baseline.load_credentials(dir)

      for {type, id} <- Map.keys(Fixtures.expected_legacy().keys) do
        assert Persistence.load_keys(dir, type, id) == Baseline.load_keys(dir, type, id),
               "load_keys(#{inspect(type)}, #{inspect(id)})"
      end

      assert Persistence.list_persisted_keys(dir) == Baseline.list_persisted_keys(dir)
    end
  end

  describe "interoperation with the pure-Elixir twin of the original" do
    for {title, writer, reader} <- [
          {"the baseline reads what we write with equal terms", Persistence, Baseline},
          {"we read what the baseline writes with equal terms", Baseline, Persistence}
        ] do
      @tag :tmp_dir
      @tag writer: writer, reader: reader
      test title, %{tmp_dir: tmp_dir, writer: writer, reader: reader} do
        dir = Golden.replay(writer, Path.join(tmp_dir, "written"))

        Golden.assert_loads(reader, dir, Fixtures.expected_json())
        assert reader.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().json}
      end
    end

    @tag :tmp_dir
    test "both write the same file set with the same decoded JSON", %{tmp_dir: tmp_dir} do
      ours = DirSnapshot.take(Golden.replay(Persistence, Path.join(tmp_dir, "ours")))
      theirs = DirSnapshot.take(Golden.replay(Baseline, Path.join(tmp_dir, "baseline")))

      assert Enum.sort(Map.keys(ours)) == Enum.sort(Map.keys(theirs))

      for {name, bytes} <- theirs do
        assert Golden.decode_json!(ours[name]) == Golden.decode_json!(bytes),
               "decoded JSON of #{name}"
      end
    end

    @tag :tmp_dir
    test "each continues a directory the other one started", %{tmp_dir: tmp_dir} do
      dir = Path.join(tmp_dir, "shared")
      {first, second} = Fixtures.ops() |> Enum.split(12)

      Golden.apply_ops(Baseline, dir, first)
      Golden.apply_ops(Persistence, dir, second)

      Golden.assert_loads(Baseline, dir, Fixtures.expected_json())
      Golden.assert_loads(Persistence, dir, Fixtures.expected_json())

      assert Golden.decode_json!(File.read!(Path.join(dir, @manifest))) ==
               Golden.decode_json!(File.read!(Path.join(Fixtures.dir(:json), @manifest)))

      assert Persistence.list_persisted_keys(dir) == Baseline.list_persisted_keys(dir)
    end
  end

  defp file_name(type, id) do
    "#{type}-#{id}.json" |> String.replace("/", "__") |> String.replace(":", "-")
  end
end
