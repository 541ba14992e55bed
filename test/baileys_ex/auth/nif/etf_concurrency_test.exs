defmodule BaileysEx.Auth.NIF.EtfConcurrencyTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.KeyStoreDispatch

  @manifest Backends.fetch!(:etf).manifest_file

  @tag :tmp_dir
  test "readers racing writers of one key only ever see a complete written value", %{
    tmp_dir: tmp_dir
  } do
    writers = 8
    rounds = 25
    readers = 4
    type = :"sender-key"
    id = "120363025246125486@g.us::15559876543::0"

    assert :ok = Persistence.save_keys(tmp_dir, type, id, value(0, 0))
    done = :atomics.new(1, [])

    reader_tasks =
      for _ <- 1..readers do
        Task.async(fn -> read_until_done(tmp_dir, type, id, done, []) end)
      end

    writer_results =
      1..writers
      |> Enum.map(fn writer ->
        Task.async(fn ->
          for round <- 1..rounds,
              do: Persistence.save_keys(tmp_dir, type, id, value(writer, round))
        end)
      end)
      |> Task.await_many(:infinity)
      |> List.flatten()

    :atomics.put(done, 1, 1)
    reads = reader_tasks |> Task.await_many(:infinity) |> List.flatten()

    assert Enum.all?(writer_results, &(&1 == :ok))
    assert reads != []

    for read <- reads do
      assert {:ok, {writer, round, payload}} = read
      assert payload == payload(writer, round), "torn or foreign value from writer #{writer}"
    end

    assert {:ok, {writer, round, _}} = Persistence.load_keys(tmp_dir, type, id)
    assert writer in 1..writers and round == rounds

    assert File.ls!(tmp_dir) |> Enum.sort() ==
             Enum.sort([@manifest, "sender-key-120363025246125486@g.us--15559876543--0.etf"])
  end

  @tag :tmp_dir
  test "the KeyStore dispatch picks the context-aware arity when a context is given", %{
    tmp_dir: tmp_dir
  } do
    value = %{key_data: <<1, 2, 3>>}

    assert :ok =
             KeyStoreDispatch.call(Persistence, tmp_dir, :save_keys, [
               :"app-state-sync-key",
               "AAAA/+8x",
               value
             ])

    assert File.exists?(Path.join(tmp_dir, "app-state-sync-key-AAAA__+8x.etf"))

    assert {:ok, ^value} =
             KeyStoreDispatch.call(Persistence, tmp_dir, :load_keys, [
               :"app-state-sync-key",
               "AAAA/+8x"
             ])

    assert :ok =
             KeyStoreDispatch.call(Persistence, tmp_dir, :delete_keys, [
               :"app-state-sync-key",
               "AAAA/+8x"
             ])

    assert {:error, :not_found} =
             KeyStoreDispatch.call(Persistence, tmp_dir, :load_keys, [
               :"app-state-sync-key",
               "AAAA/+8x"
             ])

    assert {:error, {:unsupported_persistence_operation, Persistence, :compact_keys}} =
             KeyStoreDispatch.call(Persistence, tmp_dir, :compact_keys, [])
  end

  defp read_until_done(dir, type, id, done, acc) do
    acc = [Persistence.load_keys(dir, type, id) | acc]

    if :atomics.get(done, 1) == 1 do
      acc
    else
      read_until_done(dir, type, id, done, acc)
    end
  end

  defp value(writer, round), do: {writer, round, payload(writer, round)}

  # Large enough to span many pages, and different for every (writer, round).
  defp payload(writer, round) do
    :binary.copy(:crypto.hash(:sha256, <<writer::32, round::32>>), 2048)
  end
end
