defmodule BaileysEx.Auth.NIF.KeyStore.CacheTest do
  @moduledoc """
  The cache of `BaileysEx.Auth.NIF.KeyStore`: what a read reports, how a
  read of several keys learns that a commit landed between its lookups, and
  how a failed commit puts everything back.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.KeyStore.Cache

  setup do
    %{cache: Cache.new()}
  end

  test "a read reports found values (nil included), cached absences and misses", %{cache: c} do
    :ok = Cache.fill(c, :t, ["a", "b", "n"], %{"a" => 1, "n" => nil})
    {found, versions, missing} = Cache.read(c, :t, ["a", "b", "n", "x", "a"])
    assert found == %{"a" => 1, "n" => nil}
    assert missing == ["x"]
    assert length(versions) == 4
    assert Cache.found_keys(c) |> Enum.sort() == [{:t, "a"}, {:t, "n"}]
  end

  test "versions change with every commit and fill, and not with a restore", %{cache: c} do
    :ok = Cache.put(c, [{{:t, "a"}, 1}, {{:t, "b"}, 2}])
    {_, versions, []} = Cache.read(c, :t, ["a", "b"])
    assert Cache.unchanged?(c, versions)

    saved = Cache.invalidate(c, [{:t, "a"}, {:t, "b"}])
    refute Cache.unchanged?(c, versions)
    assert Cache.read(c, :t, ["a", "b"]) == {%{}, [], ["a", "b"]}
    :ok = Cache.restore(c, saved)
    assert Cache.unchanged?(c, versions)

    :ok = Cache.put(c, [{{:t, "b"}, 2}])
    refute Cache.unchanged?(c, versions)

    {_, versions, []} = Cache.read(c, :t, ["a", "b"])
    :ok = Cache.put(c, [{{:t, "a"}, nil}])
    refute Cache.unchanged?(c, versions)
    assert Cache.read(c, :t, ["a", "b"]) |> elem(0) == %{"b" => 2}
  end

  test "a wipe empties the cache and a restore puts all of it back", %{cache: c} do
    :ok = Cache.put(c, [{{:t, "a"}, 1}, {{:u, "b"}, nil}])
    before = :ets.tab2list(c) |> Enum.sort()
    saved = Cache.wipe(c)
    assert :ets.tab2list(c) == []
    :ok = Cache.restore(c, saved)
    assert :ets.tab2list(c) |> Enum.sort() == before
  end
end
