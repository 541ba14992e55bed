defmodule BaileysEx.Auth.NIF.EtfBadInputTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.State

  @manifest Backends.fetch!(:etf).manifest_file

  describe "invalid arguments are returned as errors" do
    @tag :tmp_dir
    test "the calling process survives a burst of bad calls and the backend keeps working", %{
      tmp_dir: tmp_dir
    } do
      {pid, ref} =
        spawn_monitor(fn ->
          for ctx <- [1, ~c"x", %{}],
              type <- [:session, "session"],
              id <- ["a", self(), %{}] do
            {:error, _} = Persistence.load_keys(ctx, type, id)
            {:error, _} = Persistence.save_keys(ctx, type, id, :value)
          end

          for type <- ["session", 2], id <- ["a", self()] do
            {:error, _} = Persistence.load_keys(tmp_dir, type, id)
            {:error, _} = Persistence.delete_keys(tmp_dir, type, id)
          end

          {:error, _} = Persistence.save_credentials(tmp_dir, %{})
        end)

      assert_receive {:DOWN, ^ref, :process, ^pid, :normal}, 60_000

      assert :ok = Persistence.save_keys(tmp_dir, :session, "ok.0", %{fine: true})
      assert {:ok, %{fine: true}} = Persistence.load_keys(tmp_dir, :session, "ok.0")
    end
  end

  describe "I/O errors" do
    @tag :tmp_dir
    test "a path containing a NUL byte is :einval", %{tmp_dir: tmp_dir} do
      assert_all_calls_fail(Path.join(tmp_dir, "bad\0dir"), :einval)
      assert File.ls!(tmp_dir) == []
    end

    @tag :tmp_dir
    test "a path below a regular file is :enotdir", %{tmp_dir: tmp_dir} do
      file = Path.join(tmp_dir, "plain_file")
      File.write!(file, "not a directory")

      assert_all_calls_fail(Path.join(file, "auth"), :enotdir)
      assert File.read!(file) == "not a directory"
    end

    @tag :tmp_dir
    test "a key id too long for a file name is :enametoolong", %{tmp_dir: tmp_dir} do
      id = String.duplicate("x", 300)

      assert {:error, :enametoolong} = Persistence.load_keys(tmp_dir, :session, id)
      assert {:error, :enametoolong} = Persistence.save_keys(tmp_dir, :session, id, %{})
      assert File.ls!(tmp_dir) == []
    end
  end

  describe "undecodable files" do
    @tag :tmp_dir
    test "every strict prefix of a valid key file is refused", %{tmp_dir: tmp_dir} do
      for name <- [
            "pre-key-1.etf",
            "sender-key-120363025246125486@g.us--15559876543--0.etf"
          ] do
        bytes = File.read!(Path.join(Fixtures.dir(:etf), name))
        target = Path.join(tmp_dir, name)
        [type, id] = type_and_id(name)

        for size <- 0..(byte_size(bytes) - 1) do
          File.write!(target, binary_part(bytes, 0, size))

          assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, type, id),
                 "#{name} cut to #{size} of #{byte_size(bytes)} bytes"
        end

        File.write!(target, bytes)
        assert {:ok, _} = Persistence.load_keys(tmp_dir, type, id)
      end
    end

    @tag :tmp_dir
    test "every strict prefix of a valid creds.etf is refused", %{tmp_dir: tmp_dir} do
      bytes = File.read!(Path.join(Fixtures.dir(:etf), "creds.etf"))
      target = Path.join(tmp_dir, "creds.etf")

      for size <- 0..(byte_size(bytes) - 1) do
        File.write!(target, binary_part(bytes, 0, size))

        assert {:error, %ArgumentError{}} = Persistence.load_credentials(tmp_dir),
               "creds.etf cut to #{size} of #{byte_size(bytes)} bytes"
      end

      File.write!(target, bytes)
      assert {:ok, %State{registered: true}} = Persistence.load_credentials(tmp_dir)
    end

    @tag :tmp_dir
    test "every strict prefix of a valid manifest is invalid metadata", %{tmp_dir: tmp_dir} do
      bytes = File.read!(Path.join(Fixtures.dir(:etf), @manifest))
      target = Path.join(tmp_dir, @manifest)

      for size <- 0..(byte_size(bytes) - 1) do
        File.write!(target, binary_part(bytes, 0, size))

        assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
                 Persistence.load_keys(tmp_dir, :session, "a.0"),
               "manifest cut to #{size} of #{byte_size(bytes)} bytes"
      end
    end

    @tag :tmp_dir
    test "trailing bytes after a valid term are refused", %{tmp_dir: tmp_dir} do
      bytes = File.read!(Path.join(Fixtures.dir(:etf), "pre-key-2.etf"))
      target = Path.join(tmp_dir, "pre-key-2.etf")

      for tail <- [<<0>>, "garbage", bytes, <<131, 106>>] do
        File.write!(target, bytes <> tail)

        assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, :"pre-key", "2"),
               "trailing #{inspect(tail)}"
      end

      creds = :erlang.term_to_binary(DeterministicAuth.state(301))
      File.write!(Path.join(tmp_dir, "creds.etf"), creds <> <<0>>)
      assert {:error, %ArgumentError{}} = Persistence.load_credentials(tmp_dir)

      manifest = :erlang.term_to_binary(%{"backend" => "native_file_persistence", "version" => 1})
      File.write!(Path.join(tmp_dir, @manifest), manifest <> <<0>>)

      assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
               Persistence.load_keys(tmp_dir, :"pre-key", "2")
    end

    @tag :tmp_dir
    test "corrupt bytes are refused", %{tmp_dir: tmp_dir} do
      valid = :erlang.term_to_binary(%{key: "value"})
      <<131, rest::binary>> = valid

      corrupt = [
        "",
        "plain text",
        <<131>>,
        <<130>> <> rest,
        <<131, 255>>,
        <<131, 116, 0xFF, 0xFF, 0xFF, 0xFF>>,
        <<131, 109, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2>>,
        <<131, 108, 0xFF, 0xFF, 0xFF, 0xFF, 97, 1, 106>>,
        <<131, 80, 0, 0, 0, 10, 1, 2, 3, 4>>,
        <<131, 119, 200, "short">>,
        <<131, 119, 2, 0xFF, 0xFE>>,
        <<131, 107, 0, 3, 1>>,
        <<131, 70, 1, 2, 3>>
      ]

      target = Path.join(tmp_dir, "session-c.0.etf")

      for bytes <- corrupt do
        File.write!(target, bytes)

        assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, :session, "c.0"),
               "content #{inspect(bytes)}"

        File.write!(Path.join(tmp_dir, "creds.etf"), bytes)

        assert {:error, %ArgumentError{}} = Persistence.load_credentials(tmp_dir),
               "creds content #{inspect(bytes)}"
      end
    end
  end

  describe "foreign directories" do
    @tag :tmp_dir
    test "the JSON backend's manifest bytes under the ETF manifest name are invalid metadata", %{
      tmp_dir: tmp_dir
    } do
      json_manifest =
        File.read!(Path.join(Fixtures.dir(:json), Backends.fetch!(:json).manifest_file))

      File.write!(Path.join(tmp_dir, @manifest), json_manifest)

      assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
               Persistence.load_credentials(tmp_dir)

      assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
               Persistence.save_keys(tmp_dir, :session, "a.0", %{})

      assert File.ls!(tmp_dir) == [@manifest]
    end

    @tag :tmp_dir
    test "another backend's ETF manifest is refused", %{tmp_dir: tmp_dir} do
      File.write!(
        Path.join(tmp_dir, @manifest),
        :erlang.term_to_binary(%{"backend" => "file_persistence", "version" => 1})
      )

      assert {:error, {:unexpected_persistence_backend, Persistence, "file_persistence"}} =
               Persistence.load_keys(tmp_dir, :session, "a.0")

      assert {:error, {:unexpected_persistence_backend, Persistence, "file_persistence"}} =
               Persistence.save_credentials(tmp_dir, DeterministicAuth.state(302))

      assert File.ls!(tmp_dir) == [@manifest]
    end

    @tag :tmp_dir
    test "a JSON backend directory holds no ETF data and is left untouched", %{tmp_dir: tmp_dir} do
      dir = Fixtures.copy_to_tmp(:json, tmp_dir)
      before = for name <- File.ls!(dir), into: %{}, do: {name, File.read!(Path.join(dir, name))}

      assert {:ok, %{}} == Persistence.list_persisted_keys(dir)
      assert {:ok, %State{registered: false}} = Persistence.load_credentials(dir)
      assert {:error, :not_found} = Persistence.load_keys(dir, :session, "15559876543.0")

      after_calls =
        for name <- File.ls!(dir), into: %{}, do: {name, File.read!(Path.join(dir, name))}

      assert after_calls == before
    end
  end

  defp assert_all_calls_fail(path, reason) do
    error = {:error, reason}

    assert Persistence.load_credentials(path) == error
    assert Persistence.save_credentials(path, DeterministicAuth.state(303)) == error
    assert Persistence.load_keys(path, :session, "a.0") == error
    assert Persistence.save_keys(path, :session, "a.0", %{}) == error
    assert Persistence.delete_keys(path, :session, "a.0") == error
    assert Persistence.list_persisted_keys(path) == error
    assert Persistence.use_native_file_auth_state(path) == error
  end

  defp type_and_id("pre-key-" <> rest), do: [:"pre-key", String.trim_trailing(rest, ".etf")]

  defp type_and_id("sender-key-" <> rest) do
    [group, sender, device] = rest |> String.trim_trailing(".etf") |> String.split("--")
    [:"sender-key", "#{group}::#{sender}::#{device}"]
  end
end

defmodule BaileysEx.Auth.NIF.EtfAtomTableTest do
  # Measures the VM-wide atom count: must not run next to other tests.
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.Backends

  @manifest Backends.fetch!(:etf).manifest_file

  @tag :tmp_dir
  test "loading files full of unknown atoms does not grow the atom table", %{tmp_dir: tmp_dir} do
    names = for n <- 1..201, do: fresh_atom_name(n)

    for name <- names do
      assert_raise ArgumentError, fn -> String.to_existing_atom(name) end
    end

    {warm_up, names} = List.pop_at(names, 0)
    write_key(tmp_dir, "warm", atom_ext(warm_up))
    assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, :session, "warm")

    files =
      names
      |> Enum.chunk_every(4)
      |> Enum.with_index()
      |> Enum.map(fn {[a, b, c, d], index} ->
        # a bare atom, a map key, a list element and a tuple element
        bytes =
          case rem(index, 4) do
            0 -> <<131>> <> atom_ext(a)
            1 -> <<131, 116, 1::32>> <> atom_ext(b) <> <<97, 1>>
            2 -> <<131, 108, 2::32, 97, 1>> <> atom_ext(c) <> <<106>>
            3 -> <<131, 104, 2, 97, 1>> <> atom_ext(d)
          end

        id = "garbage#{index}"
        write_key(tmp_dir, id, bytes)
        id
      end)

    before = :erlang.system_info(:atom_count)

    for id <- files do
      assert {:error, %ArgumentError{}} = Persistence.load_keys(tmp_dir, :session, id)
    end

    File.write!(Path.join(tmp_dir, "creds.etf"), <<131>> <> atom_ext(List.last(names)))
    assert {:error, %ArgumentError{}} = Persistence.load_credentials(tmp_dir)

    File.write!(
      Path.join(tmp_dir, @manifest),
      <<131, 116, 1::32, 109, 7::32, "backend">> <> atom_ext(Enum.at(names, 1))
    )

    assert {:error, {:invalid_persistence_metadata, Persistence, _}} =
             Persistence.load_keys(tmp_dir, :session, "garbage0")

    assert :erlang.system_info(:atom_count) == before

    for name <- [warm_up | names] do
      assert_raise ArgumentError, fn -> String.to_existing_atom(name) end
    end
  end

  defp write_key(dir, id, bytes), do: File.write!(Path.join(dir, "session-#{id}.etf"), bytes)

  defp atom_ext(name), do: <<119, byte_size(name), name::binary>>

  defp fresh_atom_name(n) do
    "bx_unknown_#{n}_" <> Base.encode16(:crypto.strong_rand_bytes(10), case: :lower)
  end
end
