defmodule BaileysEx.Auth.NIF.EtfManifestCacheTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Baseline.NativeFilePersistence, as: Original
  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Store
  alias BaileysEx.Auth.NIF.Test.Backends

  @manifest Backends.fetch!(:etf).manifest_file

  defp manifest_stat(dir), do: File.stat!(Path.join(dir, @manifest), time: :posix)

  defp index(dir) do
    dir
    |> Path.join(@manifest)
    |> File.read!()
    |> :erlang.binary_to_term()
    |> Map.fetch!("key_index")
  end

  @tag :tmp_dir
  test "re-saving an indexed key leaves the manifest file untouched", %{tmp_dir: dir} do
    :ok = Store.save_keys(dir, :session, "1.0", %{v: 1})
    before = manifest_stat(dir)

    for v <- 2..5, do: :ok = Store.save_keys(dir, :session, "1.0", %{v: v})
    :ok = Store.save_keys(dir, :"not-indexed", "x", 1)

    assert manifest_stat(dir).inode == before.inode
    assert {:ok, %{v: 5}} = Store.load_keys(dir, :session, "1.0")
  end

  @tag :tmp_dir
  test "a new id replaces the manifest", %{tmp_dir: dir} do
    :ok = Store.save_keys(dir, :session, "1.0", 1)
    before = manifest_stat(dir)
    :ok = Store.save_keys(dir, :session, "2.0", 2)
    refute manifest_stat(dir).inode == before.inode
    assert index(dir)["session"] == ["1.0", "2.0"]
  end

  @tag :tmp_dir
  test "another writer's manifest change is seen by the next call", %{tmp_dir: dir} do
    :ok = Store.save_keys(dir, :session, "1.0", 1)
    assert {:ok, _} = Store.load_keys(dir, :session, "1.0")

    # The pure-Elixir writer rewrites the manifest behind the NIF's cache.
    :ok = Original.save_keys(dir, :"pre-key", "7", 7)
    :ok = Store.save_keys(dir, :session, "2.0", 2)
    assert index(dir) == %{"pre-key" => ["7"], "session" => ["1.0", "2.0"]}

    File.write!(
      Path.join(dir, @manifest),
      :erlang.term_to_binary(%{"backend" => "file_persistence"})
    )

    assert {:error, {:unexpected_persistence_backend, Store, "file_persistence"}} =
             Store.load_keys(dir, :session, "1.0")
  end

  @tag :tmp_dir
  test "a manifest the original wrote unsorted is normalised on the next change", %{tmp_dir: dir} do
    unsorted = %{
      "backend" => "native_file_persistence",
      "version" => 1,
      "key_index" => %{"session" => ["b", "a", "a"], "bogus" => ["x"]}
    }

    File.write!(Path.join(dir, @manifest), :erlang.term_to_binary(unsorted))
    :ok = Store.save_keys(dir, :session, "a", 1)
    assert index(dir) == %{"session" => ["a", "b"]}
  end
end
