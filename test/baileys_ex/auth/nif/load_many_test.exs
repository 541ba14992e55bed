defmodule BaileysEx.Auth.NIF.LoadManyTest do
  @moduledoc """
  `load_many/3`, run per backend: for every id it returns exactly what
  `load_keys/3` returns, a missing key absent, whether the NIF decoded the
  file where it read it or handed it to `decode_many` (past 64 KiB of
  decoding per call); a file `load_keys` fails on fails the whole call with
  the same reason.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.Parity
  alias BaileysEx.Signal.SessionRecord

  for backend <- Backends.all() do
    describe backend.title do
      @describetag :tmp_dir
      @describetag backend: backend

      test "every id gets what load_keys gives it, a missing one is absent", ctx do
        %{backend: %{module: m}, tmp_dir: dir} = ctx
        # Small records decoded where they are read, and records of about
        # 100 KB each that go to decode_many.
        small = for n <- 1..40, do: {"s#{n}", Parity.session_record(n)}
        large = for n <- 1..6, do: {"l#{n}", large_value(n)}

        for {id, value} <- small ++ large,
            do: assert(m.save_keys(dir, :session, id, value) == :ok)

        assert m.save_keys(dir, :session, 7, Parity.session_record(7)) == :ok

        ids =
          Enum.map(small ++ large, &elem(&1, 0)) ++
            [7, "7", "missing", "s1", "also/missing", "l1"]

        loads = Map.new(ids, &{&1, m.load_keys(dir, :session, &1)})
        missing = for {id, {:error, :not_found}} <- loads, do: id
        expected = for {id, {:ok, value}} <- loads, into: %{}, do: {id, value}
        assert Enum.sort(missing) == ["also/missing", "missing"]
        assert map_size(expected) == 48
        assert m.load_many(dir, :session, ids) == {:ok, expected}
        assert m.load_many(dir, :session, Enum.reverse(ids)) == {:ok, expected}
        assert m.load_many(dir, :session, []) == {:ok, %{}}
        assert m.load_many(dir, :"pre-key", ["s1", 1]) == {:ok, %{}}
        assert m.load_many(Path.join(dir, "new"), :session, ["s1"]) == {:ok, %{}}
      end

      test "a key saved as nil is absent, as load_keys finds nothing", ctx do
        %{backend: %{module: m}, tmp_dir: dir} = ctx
        pair = DeterministicAuth.x25519_key_pair(1)

        assert m.save_keys(dir, :"device-list", "nil", nil) == :ok
        assert m.save_keys(dir, :"pre-key", 1, pair) == :ok
        assert m.load_keys(dir, :"device-list", "nil") == {:error, :not_found}
        assert m.load_many(dir, :"device-list", ["nil"]) == {:ok, %{}}
        assert m.load_many(dir, :"pre-key", [1, 2]) == {:ok, %{1 => pair}}
      end

      test "a file load_keys fails on fails the call with the same reason", ctx do
        %{backend: %{module: m, ext: ext}, tmp_dir: dir} = ctx
        assert m.save_keys(dir, :session, "good", Parity.session_record(1)) == :ok

        # A small one is decoded in the NIF, a large one by decode_many.
        for {id, bytes} <- [{"bad", "not a term {"}, {"big", :binary.copy("{[", 50_000)}] do
          File.write!(Path.join(dir, "session-#{id}#{ext}"), bytes)
          assert {:error, _} = error = m.load_keys(dir, :session, id)
          assert m.load_many(dir, :session, ["good", id]) == error
          File.rm!(Path.join(dir, "session-#{id}#{ext}"))
        end

        assert {:ok, %{"good" => _}} = m.load_many(dir, :session, ["good", "bad"])
      end
    end
  end

  # A session record of about 100 KB: a chain of 2,000 message keys.
  defp large_value(n) do
    base = <<5>> <> DeterministicAuth.bytes(n, "base", 32)
    keys = Map.new(1..2_000, &{&1, DeterministicAuth.bytes(n, "mk#{&1}", 32)})
    %SessionRecord{sessions: %{base => Parity.small_session(base, keys)}}
  end
end

defmodule BaileysEx.Auth.NIF.BatchDefaultPathTest do
  # Changes application env: must not run concurrently.
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth

  @app :baileys_ex_nif_persistence

  for backend <- Backends.all() do
    describe backend.title do
      @describetag :tmp_dir
      @describetag backend: backend

      test "commit/1 and load_many/2 use the configured path", ctx do
        %{backend: %{module: m, ext: ext}, tmp_dir: tmp_dir} = ctx
        previous = Application.fetch_env(@app, m)

        on_exit(fn ->
          case previous do
            {:ok, value} -> Application.put_env(@app, m, value)
            :error -> Application.delete_env(@app, m)
          end
        end)

        configured = Path.join(tmp_dir, "configured")
        Application.put_env(@app, m, path: configured)
        pair = DeterministicAuth.x25519_key_pair(3)

        assert m.commit(%{"pre-key": %{3 => pair, 4 => pair}}) == :ok
        assert File.exists?(Path.join(configured, "pre-key-3" <> ext))
        assert m.load_many(:"pre-key", [3, 4, 5]) == {:ok, %{3 => pair, 4 => pair}}
        assert m.load_many(nil, :"pre-key", [3]) == m.load_many(configured, :"pre-key", [3])
        assert m.commit(nil, %{"pre-key": %{4 => nil}}) == :ok
        assert m.load_many(:"pre-key", [3, 4]) == {:ok, %{3 => pair}}
      end
    end
  end
end
