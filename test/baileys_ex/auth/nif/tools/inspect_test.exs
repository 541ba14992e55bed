defmodule BaileysEx.Auth.NIF.Tools.InspectTest do
  @moduledoc "`Tools.inspect_*`: counts per type, creds summary, masked values."
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Tools

  for backend <- [:etf, :json] do
    test "#{backend}: counts, bytes, files and a creds summary" do
      dir = Fixtures.dir(unquote(backend))
      assert {:ok, info} = Tools.inspect_dir(dir)
      assert info.types[:"pre-key"].count == 3
      assert info.types |> Map.values() |> Enum.map(& &1.count) |> Enum.sum() == 24

      bytes = File.stat!(Path.join(dir, "session-15559876543.0.#{unquote(backend)}")).size

      assert info.types.session.bytes ==
               bytes +
                 File.stat!(Path.join(dir, "session-98765432109876_1.0.#{unquote(backend)}")).size

      assert {_name, _mtime} = info.oldest

      creds = Fixtures.expected().creds

      assert info.creds == [
               registered: creds.registered,
               "me.id": creds.me.id,
               platform: "smba",
               next_pre_key_id: creds.next_pre_key_id
             ]
    end
  end

  test "a key is masked unless secrets are asked for" do
    dir = Fixtures.dir(:etf)

    {:ok, %{private: private, public: public}} =
      Tools.inspect_key(dir, :"pre-key", "1", secrets: true)

    assert {:ok, %{private: "(masked: 32 bytes)", public: ^public}} =
             Tools.inspect_key(dir, :"pre-key", "1")

    assert byte_size(private) == 32

    {:ok, creds} = Tools.inspect_key(dir, :creds, nil)

    refute inspect(creds, limit: :infinity) =~
             inspect(Fixtures.expected().creds.noise_key.private)

    assert creds.noise_key.public == Fixtures.expected().creds.noise_key.public
    assert {:error, :not_found} = Tools.inspect_key(dir, :"pre-key", "404")
  end

  test "ids of one type with their files" do
    assert {:ok, entries} = Tools.inspect_type(Fixtures.dir(:json), :"device-list")
    assert Enum.map(entries, & &1.id) == ["15559876543", "98765432109876", "alice/device:0"]
    assert %{id: "15559876543", bytes: 14} = Enum.find(entries, &(&1.id == "15559876543"))
  end
end
