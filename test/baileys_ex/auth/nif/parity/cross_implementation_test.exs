defmodule BaileysEx.Auth.NIF.Parity.CrossImplementationTest do
  @moduledoc """
  Implementations of the same backend kind must be interchangeable on disk:
  a directory written by one reads back with equal terms in the other, ETF
  files are byte-identical (same VM, same OTP), JSON files are JSON-equal,
  and `list_persisted_keys/1` agrees. Runs for every pair of implementations
  present (see `BaileysEx.Auth.NIF.Test.Parity.pairs/0`), with the fixture
  operations followed by `Parity.extra_ops/0` (more keys, overwrites,
  deletes, odd ids and a second credentials save).
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Test.Parity

  test "the JSON expectation model gives what the real JSON backend returned" do
    exact = Fixtures.expected()
    json = Fixtures.expected_json()

    assert Parity.loaded(:json, :creds, exact.creds) == json.creds
    assert Map.keys(exact.keys) == Map.keys(json.keys)

    for {{type, id} = key, value} <- exact.keys do
      assert Parity.loaded(:json, type, value) == Map.fetch!(json.keys, key),
             "#{inspect(type)} #{inspect(id)}"
    end
  end

  test "both backend kinds have at least two implementations to compare" do
    kinds = for {{_, kind, _}, _} <- Parity.pairs(), uniq: true, do: kind
    assert Enum.sort(kinds) == [:etf, :json]
  end

  for {{a, kind, _}, {b, _, _}} <- Parity.pairs() do
    describe "#{inspect(a)} and #{inspect(b)}" do
      @describetag :tmp_dir
      @describetag a: a, b: b, kind: kind

      test "a directory written by either reads back with equal terms in the other", ctx do
        %{a: a, b: b, kind: kind, tmp_dir: tmp} = ctx

        for {writer, reader} <- [{a, b}, {b, a}] do
          dir = Path.join(tmp, inspect(writer))
          assert Parity.replay(writer, dir, Parity.all_ops()) == []
          assert_holds_final_state(dir, kind, [reader, writer])
        end
      end

      test "both write the same file names with the same content", ctx do
        %{a: a, b: b, kind: kind, tmp_dir: tmp} = ctx
        {dir_a, dir_b} = {Path.join(tmp, "a"), Path.join(tmp, "b")}

        assert Parity.replay(a, dir_a, Parity.all_ops()) == []
        assert Parity.replay(b, dir_b, Parity.all_ops()) == []

        assert_same_files(kind, dir_a, dir_b)
      end

      test "list_persisted_keys gives equal results", ctx do
        %{a: a, b: b, tmp_dir: tmp} = ctx
        {dir_a, dir_b} = {Path.join(tmp, "a"), Path.join(tmp, "b")}

        assert Parity.replay(a, dir_a, Parity.all_ops()) == []
        assert Parity.replay(b, dir_b, Parity.all_ops()) == []

        assert {:ok, listing} = a.list_persisted_keys(dir_a)
        assert map_size(listing) == length(Parity.persisted_types())
        assert b.list_persisted_keys(dir_b) == {:ok, listing}
        assert b.list_persisted_keys(dir_a) == {:ok, listing}
        assert a.list_persisted_keys(dir_b) == {:ok, listing}

        assert listing[:"device-list"] ==
                 [
                   "15551112222",
                   "15559876543",
                   "98765432109876",
                   "alice/device-0",
                   "alice/device:0"
                 ]

        assert listing[:tctoken] |> Enum.filter(&String.starts_with?(&1, "a")) ==
                 ["a/b@lid", "a__b@lid"]

        assert listing[:"lid-mapping"] == []
      end

      test "alternating writes of both give the directory either writes alone", ctx do
        %{a: a, b: b, kind: kind, tmp_dir: tmp} = ctx
        alone = Path.join(tmp, "alone")
        assert Parity.replay(a, alone, Parity.all_ops()) == []

        for {order, name} <- [{[a, b], "a_first"}, {[b, a], "b_first"}] do
          dir = Path.join(tmp, name)
          assert Parity.replay(order, dir, Parity.all_ops()) == []
          assert_same_files(kind, alone, dir)
          assert_holds_final_state(dir, kind, order)
          assert a.list_persisted_keys(dir) == a.list_persisted_keys(alone)
        end
      end
    end
  end

  # Every module in `readers` loads the credentials and keys that the replayed
  # operations leave in `dir`, and :not_found for every deleted key.
  defp assert_holds_final_state(dir, kind, readers) do
    final = Parity.final_state(Parity.all_ops())

    deleted =
      for {:delete, type, id, _note} <- Parity.all_ops(),
          not Map.has_key?(final.keys, {type, to_string(id)}),
          uniq: true,
          do: {type, to_string(id)}

    assert deleted != []

    for reader <- readers do
      assert reader.load_credentials(dir) == {:ok, Parity.loaded(kind, :creds, final.creds)},
             "#{inspect(reader)} credentials"

      for {{type, id}, value} <- final.keys do
        assert reader.load_keys(dir, type, id) == {:ok, Parity.loaded(kind, type, value)},
               "#{inspect(reader)} load_keys(#{inspect(type)}, #{inspect(id)})"
      end

      for {type, id} <- deleted do
        assert reader.load_keys(dir, type, id) == {:error, :not_found},
               "#{inspect(reader)} load_keys(#{inspect(type)}, #{inspect(id)}) after delete"
      end
    end
  end

  defp assert_same_files(kind, dir_a, dir_b) do
    names = dir_a |> File.ls!() |> Enum.sort()
    assert dir_b |> File.ls!() |> Enum.sort() == names
    assert Backends.fetch!(kind).manifest_file in names
    assert length(names) > 30

    for name <- names do
      left = Path.join(dir_a, name)
      right = Path.join(dir_b, name)

      case kind do
        :etf ->
          assert File.read!(left) == File.read!(right), "bytes differ for #{name}"

        :json ->
          assert Parity.decode_json_file!(left) == Parity.decode_json_file!(right),
                 "JSON differs for #{name}"
      end
    end
  end
end
