defmodule BaileysEx.Auth.NIF.Tools.MigrateTest do
  @moduledoc """
  `Tools.migrate/3` both ways over the fixture directories, compared load by
  load with what the target drop-in gives back for the source value; and an
  injected fault at every filesystem call of a migration, which must leave
  the source intact and no target or staging directory behind.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.FilePersistence
  alias BaileysEx.Auth.NIF.NativeFilePersistence
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Tools

  @modules %{etf: NativeFilePersistence, json: FilePersistence}

  for {from, to} <- [etf: :json, json: :etf] do
    @from from
    @to to

    @tag :tmp_dir
    test "#{from} -> #{to}: every key and the creds load as the target drop-in holds them",
         %{tmp_dir: tmp} do
      source = Fixtures.copy_to_tmp(@from, Path.join(tmp, "src"))
      before = snapshot(source)
      target = Path.join(tmp, "dst")

      assert {:ok, result} = Tools.migrate(source, target, to: @to)
      assert snapshot(source) == before
      assert result.keys == 24 and result.creds?

      # The source values, loaded through the source drop-in from a copy.
      reference = Fixtures.copy_to_tmp(@from, Path.join(tmp, "ref"))
      scratch = Path.join(tmp, "scratch")
      source_module = @modules[@from]
      target_module = @modules[@to]
      {:ok, index} = source_module.list_persisted_keys(reference)

      for {type, ids} <- index, id <- ids do
        {:ok, value} = source_module.load_keys(reference, type, id)
        :ok = target_module.save_keys(scratch, type, id, value)
        expected = target_module.load_keys(scratch, type, id)
        assert target_module.load_keys(target, type, id) == expected, "#{type} #{id}"
      end

      {:ok, creds} = source_module.load_credentials(reference)
      :ok = target_module.save_credentials(scratch, creds)
      assert target_module.load_credentials(target) == target_module.load_credentials(scratch)

      # Same index as the source's (the manifest's exact ids are kept).
      assert target_module.list_persisted_keys(target) == {:ok, index}
      assert {:ok, %{status: :ok}} = Tools.verify(target)
      assert File.ls!(tmp) |> Enum.sort() == ["dst", "ref", "scratch", "src"]
    end
  end

  @tag :tmp_dir
  test "what JSON cannot hold exactly is listed with what it loads back as", %{tmp_dir: tmp} do
    assert {:ok, result} = Tools.migrate(Fixtures.dir(:etf), Path.join(tmp, "dst"), to: :json)

    assert result.inexact |> Enum.map(&elem(&1, 0)) |> Enum.sort() == [
             {:creds, [:account_settings, :default_disappearing_mode]},
             {{:tctoken, "98765432109876@lid"}, []},
             {{:tctoken, Enum.find(long_tctoken_ids(), & &1)}, []}
           ]

    assert {:ok, %{inexact: []}} =
             Tools.migrate(Fixtures.dir(:json), Path.join(tmp, "dst2"), to: :etf)
  end

  @tag :tmp_dir
  test "a non-empty target is refused unless forced, then replaced whole", %{tmp_dir: tmp} do
    target = Path.join(tmp, "dst")
    File.mkdir_p!(target)
    File.write!(Path.join(target, "old.txt"), "old")

    assert {:error, {:target_not_empty, ^target}} =
             Tools.migrate(Fixtures.dir(:json), target, to: :etf)

    assert File.ls!(target) == ["old.txt"]

    assert {:ok, _} = Tools.migrate(Fixtures.dir(:json), target, to: :etf, force: true)
    refute File.exists?(Path.join(target, "old.txt"))
    assert File.exists?(Path.join(target, "creds.etf"))
    assert File.ls!(tmp) == ["dst"]

    # An empty target directory needs no force.
    empty = Path.join(tmp, "empty")
    File.mkdir!(empty)
    assert {:ok, _} = Tools.migrate(Fixtures.dir(:etf), empty, to: :json)
  end

  @tag :tmp_dir
  test "a damaged source is refused and nothing is written", %{tmp_dir: tmp} do
    source = Fixtures.copy_to_tmp(:etf, tmp)
    File.write!(Path.join(source, "pre-key-1.etf"), "garbage")
    target = Path.join(tmp, "dst")

    assert {:error, {:source_damaged, %{status: :damaged}}} =
             Tools.migrate(source, target, to: :json)

    assert File.ls!(tmp) == ["etf"]
  end

  @tag :tmp_dir
  test "a fault at every filesystem call leaves the source intact and no target",
       %{tmp_dir: tmp} do
    source = Fixtures.copy_to_tmp(:etf, tmp)
    before = snapshot(source)
    {:ok, %{fs_calls: calls}} = Tools.migrate(source, Path.join(tmp, "probe"), to: :json)
    File.rm_rf!(Path.join(tmp, "probe"))
    assert calls > 50

    for n <- 1..calls do
      target = Path.join(tmp, "dst")

      assert_raise RuntimeError, ~r/injected fault at filesystem call #{n} /, fn ->
        Tools.migrate(source, target, to: :json, fault_at: n)
      end

      assert snapshot(source) == before
      assert File.ls!(tmp) == ["etf"], "after a fault at call #{n}: #{inspect(File.ls!(tmp))}"
    end
  end

  @tag :tmp_dir
  test "a fault at every call of a forced migration keeps the old target whole",
       %{tmp_dir: tmp} do
    source = Fixtures.copy_to_tmp(:json, tmp)
    target = Path.join(tmp, "dst")
    {:ok, %{fs_calls: calls}} = Tools.migrate(Fixtures.dir(:etf), target, to: :etf)
    old = snapshot(target)

    for n <- 1..calls do
      assert_raise RuntimeError, fn ->
        Tools.migrate(source, target, to: :etf, force: true, fault_at: n)
      end

      assert snapshot(target) == old, "after a fault at call #{n}"
      assert Enum.sort(File.ls!(tmp)) == ["dst", "json"]
    end
  end

  @tag :tmp_dir
  test "progress is reported key by key up to the total", %{tmp_dir: tmp} do
    me = self()
    progress = fn done, total -> send(me, {:progress, done, total}) end

    assert {:ok, _} =
             Tools.migrate(Fixtures.dir(:json), Path.join(tmp, "dst"),
               to: :etf,
               progress: progress
             )

    seen = for _ <- 1..24, do: assert_received({:progress, done, 24}) && done
    assert seen == Enum.to_list(1..24)
    refute_received {:progress, _, _}
  end

  @tag :tmp_dir
  test "legacy JSON files (not in a manifest) migrate under their scanned ids", %{tmp_dir: tmp} do
    target = Path.join(tmp, "dst")
    assert {:ok, result} = Tools.migrate(Fixtures.dir(:json_legacy), target, to: :etf)
    legacy = Fixtures.expected_legacy()
    assert result.keys == map_size(legacy.keys)

    for {{type, id}, value} <- legacy.keys do
      assert NativeFilePersistence.load_keys(target, type, id) == {:ok, value}, "#{type} #{id}"
    end

    assert NativeFilePersistence.load_credentials(target) == {:ok, legacy.creds}
  end

  @tag :tmp_dir
  test "a target that is a file, or a bad option, is an error", %{tmp_dir: tmp} do
    file = Path.join(tmp, "file")
    File.write!(file, "x")

    assert {:error, {:target_not_a_directory, ^file, :regular}} =
             Tools.migrate(Fixtures.dir(:etf), file, to: :json)

    assert {:error, {:invalid_backend, :xml}} = Tools.migrate(Fixtures.dir(:etf), file, to: :xml)
    assert {:error, :missing_target_backend} = Tools.migrate(Fixtures.dir(:etf), file, [])
    assert File.ls!(tmp) == ["file"]
  end

  defp long_tctoken_ids do
    for {{:tctoken, id}, _value} <- Fixtures.expected().keys, byte_size(id) > 100, do: id
  end

  defp snapshot(dir) do
    for name <- Enum.sort(File.ls!(dir)) do
      path = Path.join(dir, name)
      {:ok, stat} = File.lstat(path, time: :posix)
      {name, stat.mtime, File.read!(path)}
    end
  end
end
