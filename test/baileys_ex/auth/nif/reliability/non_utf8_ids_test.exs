defmodule BaileysEx.Auth.NIF.Reliability.NonUTF8IdsTest do
  @moduledoc """
  A JSON manifest holds ids as JSON strings, which are UTF-8. For an id that
  is not, the original writes the key's data file, then its manifest encoder
  raises and the manifest stays as it was. Ours does the same, returning an
  error instead of raising: the manifest on disk and the one cached in this
  VM stay identical, so a fresh view of the directory lists what this VM
  lists, and every listed id loads and deletes.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Baseline
  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.FilePersistence

  @moduletag :tmp_dir
  @manifest ".baileys_ex_file_persistence.json"
  @type_atom :"device-list"
  @bad_id <<0xFF, 0xFE>>

  # The per-directory cache is keyed by path, so a second path to the same
  # directory (a symlink) reads it as a fresh VM would.
  defp fresh_view(dir) do
    link = dir <> "-fresh-view"
    File.ln_s!(dir, link)
    link
  end

  # Raw names, those that are not UTF-8 included (`File.ls/1` skips them).
  defp names(dir) do
    {:ok, names} = :file.list_dir_all(dir)
    names |> Enum.map(&if(is_binary(&1), do: &1, else: List.to_string(&1))) |> Enum.sort()
  end

  defp manifest_on_disk(dir) do
    {:ok, manifest} = dir |> Path.join(@manifest) |> File.read!() |> JSONCodec.decode()
    manifest
  end

  test "the data file is written, the manifest is left as it was, and both views agree", %{
    tmp_dir: tmp_dir
  } do
    dir = Path.join(tmp_dir, "auth")
    assert :ok = FilePersistence.save_keys(dir, @type_atom, "plain", %{"v" => 1})
    manifest_before = File.read!(Path.join(dir, @manifest))

    assert {:error, {:invalid_json_data, message}} =
             FilePersistence.save_keys(dir, @type_atom, @bad_id, %{"v" => 2})

    assert message =~ "invalid byte 255"
    assert File.read!(Path.join(dir, @manifest)) == manifest_before
    assert manifest_on_disk(dir)["key_index"]["device-list"] == ["plain"]
    assert {:ok, %{"v" => 2}} = FilePersistence.load_keys(dir, @type_atom, @bad_id)

    fresh = fresh_view(dir)
    listing = %{@type_atom => [@bad_id, "plain"] |> Enum.sort()}
    assert FilePersistence.list_persisted_keys(dir) == {:ok, listing}
    assert FilePersistence.list_persisted_keys(fresh) == {:ok, listing}

    # Every listed id loads, in either view, and deletes.
    for view <- [dir, fresh], id <- listing[@type_atom] do
      assert {:ok, _} = FilePersistence.load_keys(view, @type_atom, id)
    end

    assert :ok = FilePersistence.delete_keys(fresh, @type_atom, @bad_id)
    assert FilePersistence.load_keys(dir, @type_atom, @bad_id) == {:error, :not_found}
    assert FilePersistence.list_persisted_keys(dir) == {:ok, %{@type_atom => ["plain"]}}
    assert FilePersistence.list_persisted_keys(fresh) == {:ok, %{@type_atom => ["plain"]}}
  end

  test "the directory ends as the original leaves it", %{tmp_dir: tmp_dir} do
    ours = Path.join(tmp_dir, "ours")
    original = Path.join(tmp_dir, "original")

    for dir <- [ours, original] do
      module = if dir == ours, do: FilePersistence, else: Baseline.FilePersistence
      assert :ok = module.save_keys(dir, @type_atom, "plain", %{"v" => 1})

      result =
        try do
          module.save_keys(dir, @type_atom, @bad_id, %{"v" => 2})
        rescue
          error -> {:raised, error}
        catch
          kind, reason -> {:raised, {kind, reason}}
        end

      assert match?({:raised, _}, result) or match?({:error, _}, result)
    end

    assert names(ours) == names(original)
    assert ("device-list-" <> @bad_id <> ".json") in names(ours)
    assert manifest_on_disk(ours) == manifest_on_disk(original)

    assert FilePersistence.list_persisted_keys(ours) ==
             {:ok, %{@type_atom => Enum.sort([@bad_id, "plain"])}}
  end

  test "an id of a type the manifest does not index is saved as usual", %{tmp_dir: tmp_dir} do
    dir = Path.join(tmp_dir, "auth")
    assert :ok = FilePersistence.save_keys(dir, :"custom-type", @bad_id, %{"v" => 3})
    assert {:ok, %{"v" => 3}} = FilePersistence.load_keys(dir, :"custom-type", @bad_id)
    assert manifest_on_disk(dir)["key_index"] == %{}
  end
end
