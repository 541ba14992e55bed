defmodule BaileysEx.Auth.NIF.JsonGoldenTest do
  @moduledoc """
  Checks the JSON backend against files written by the real BaileysEx
  `FilePersistence` (fixtures set_a: `json/`, `json_legacy/`) and against the
  pure-Elixir twin of the original.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Baseline.FilePersistence, as: Baseline
  alias BaileysEx.Auth.NIF.FilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.Fixtures

  @manifest Backends.fetch!(:json).manifest_file

  describe "loading the json/ fixture directory" do
    @tag :tmp_dir
    test "the credentials and every key load exactly as expected_json.etf", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:json, tmp_dir)
      before = dir_contents(dir)
      expected = Fixtures.expected_json()

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

    test "every file in json/ is the credentials, the manifest or an expected key" do
      expected = Fixtures.expected_json()

      names =
        for {type, id} <- Map.keys(expected.keys), into: MapSet.new(["creds.json", @manifest]) do
          file_name(type, id)
        end

      assert MapSet.new(File.ls!(Fixtures.dir(:json))) == names
    end

    @tag :tmp_dir
    test "list_persisted_keys equals the real backend's listing", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:json, tmp_dir)
      assert Persistence.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().json}
    end

    @tag :tmp_dir
    test "every listed id loads, phantom spellings included", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:json, tmp_dir)
      expected = Fixtures.expected_json()

      for {type, ids} <- Fixtures.expected_index().json, id <- ids do
        assert {:ok, value} = Persistence.load_keys(dir, type, id)

        if Map.has_key?(expected.keys, {type, id}) do
          assert value == expected.keys[{type, id}]
        end
      end
    end
  end

  describe "loading the json_legacy/ samples" do
    @tag :tmp_dir
    test "the credentials and every key load exactly as expected_legacy.etf", %{
      tmp_dir: tmp_dir
    } do
      dir = Fixtures.copy_to_tmp(:json_legacy, tmp_dir)
      before = dir_contents(dir)
      expected = Fixtures.expected_legacy()

      assert Persistence.load_credentials(dir) == {:ok, expected.creds}

      for {{type, id}, value} <- expected.keys do
        assert Persistence.load_keys(dir, type, id) == {:ok, value},
               "load_keys(#{inspect(type)}, #{inspect(id)})"
      end

      assert dir_contents(dir) == before, "loading must not change any file"
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

  describe "replaying ops.etf into an empty directory" do
    @tag :tmp_dir
    test "writes the same file set with the same decoded JSON", %{tmp_dir: tmp_dir} do
      dir = replay(Persistence, Path.join(tmp_dir, "replayed"))
      fixture = dir_contents(Fixtures.dir(:json))
      written = dir_contents(dir)

      assert Enum.sort(Map.keys(written)) == Enum.sort(Map.keys(fixture))
      assert @manifest in Map.keys(written)

      for {name, bytes} <- fixture do
        assert decode_json!(written[name]) == decode_json!(bytes), "decoded JSON of #{name}"
      end
    end

    @tag :tmp_dir
    test "the replayed directory loads back exactly and lists like the real backend", %{
      tmp_dir: tmp_dir
    } do
      dir = replay(Persistence, Path.join(tmp_dir, "replayed"))
      expected = Fixtures.expected_json()

      assert Persistence.load_credentials(dir) == {:ok, expected.creds}

      for {{type, id}, value} <- expected.keys do
        assert Persistence.load_keys(dir, type, id) == {:ok, value},
               "load_keys(#{inspect(type)}, #{inspect(id)})"
      end

      assert Persistence.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().json}
    end
  end

  describe "interoperation with the pure-Elixir twin of the original" do
    @tag :tmp_dir
    test "the baseline reads what we write with equal terms", %{tmp_dir: tmp_dir} do
      dir = replay(Persistence, Path.join(tmp_dir, "ours"))
      expected = Fixtures.expected_json()

      assert Baseline.load_credentials(dir) == {:ok, expected.creds}

      for {{type, id}, value} <- expected.keys do
        assert Baseline.load_keys(dir, type, id) == {:ok, value},
               "baseline load_keys(#{inspect(type)}, #{inspect(id)})"
      end

      assert Baseline.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().json}
    end

    @tag :tmp_dir
    test "we read what the baseline writes with equal terms", %{tmp_dir: tmp_dir} do
      dir = replay(Baseline, Path.join(tmp_dir, "baseline"))
      expected = Fixtures.expected_json()

      assert Persistence.load_credentials(dir) == {:ok, expected.creds}

      for {{type, id}, value} <- expected.keys do
        assert Persistence.load_keys(dir, type, id) == {:ok, value},
               "load_keys(#{inspect(type)}, #{inspect(id)})"
      end

      assert Persistence.list_persisted_keys(dir) == {:ok, Fixtures.expected_index().json}
    end

    @tag :tmp_dir
    test "both write the same file set with the same decoded JSON", %{tmp_dir: tmp_dir} do
      ours = dir_contents(replay(Persistence, Path.join(tmp_dir, "ours")))
      theirs = dir_contents(replay(Baseline, Path.join(tmp_dir, "baseline")))

      assert Enum.sort(Map.keys(ours)) == Enum.sort(Map.keys(theirs))

      for {name, bytes} <- theirs do
        assert decode_json!(ours[name]) == decode_json!(bytes), "decoded JSON of #{name}"
      end
    end

    @tag :tmp_dir
    test "each continues a directory the other one started", %{tmp_dir: tmp_dir} do
      dir = Path.join(tmp_dir, "shared")
      {first, second} = Fixtures.ops() |> Enum.split(12)

      apply_ops(Baseline, dir, first)
      apply_ops(Persistence, dir, second)

      expected = Fixtures.expected_json()
      assert Baseline.load_credentials(dir) == {:ok, expected.creds}
      assert Persistence.load_credentials(dir) == {:ok, expected.creds}

      for {{type, id}, value} <- expected.keys do
        assert Baseline.load_keys(dir, type, id) == {:ok, value}
        assert Persistence.load_keys(dir, type, id) == {:ok, value}
      end

      assert decode_json!(File.read!(Path.join(dir, @manifest))) ==
               decode_json!(File.read!(Path.join(Fixtures.dir(:json), @manifest)))

      assert Persistence.list_persisted_keys(dir) == Baseline.list_persisted_keys(dir)
    end
  end

  defp replay(module, dir) do
    apply_ops(module, dir, Fixtures.ops())
    dir
  end

  defp apply_ops(module, dir, ops) do
    for op <- ops do
      case op do
        {:creds, state} ->
          assert :ok = module.save_credentials(dir, state)

        {:save, type, id, value, note} ->
          assert :ok = module.save_keys(dir, type, id, value), inspect(note)

        {:delete, type, id, note} ->
          assert :ok = module.delete_keys(dir, type, id), inspect(note)
      end
    end
  end

  defp file_name(type, id) do
    "#{type}-#{id}.json" |> String.replace("/", "__") |> String.replace(":", "-")
  end

  # JSON read independently of the module under test: OTP's own `:json` where
  # the VM has it (OTP 27+), else the test-support codec.
  if Code.ensure_loaded?(:json) do
    defp decode_json!(text) do
      {term, :ok, rest} = :json.decode(text, :ok, %{null: nil})
      "" = String.trim(rest)
      term
    end
  else
    defp decode_json!(text) do
      {:ok, term} = BaileysEx.Auth.NIF.Baseline.JSONCodec.decode(text)
      term
    end
  end

  defp dir_contents(dir) do
    for name <- File.ls!(dir), into: %{} do
      {name, File.read!(Path.join(dir, name))}
    end
  end
end
