defmodule BaileysEx.Auth.NIF.CommitBadInputTest do
  @moduledoc """
  A commit with one bad entry anywhere, among good ones, answers
  `{:error, reason}` with the reason `save_keys`, `delete_keys` or
  `save_credentials` give for that entry, and leaves the directory byte for
  byte as it was: no file written, replaced or removed, no temp file left.
  Run per backend.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.Parity

  @moduletag timeout: 300_000

  for backend <- Backends.all() do
    describe backend.title do
      @describetag :tmp_dir
      @describetag backend: backend

      test "a bad shape, type or id anywhere refuses the whole commit", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx
        dir = populated(ctx.backend, tmp_dir)
        before = snapshot(dir)

        cases =
          for(
            changes <- [[], "x", nil, {:a, 1}, [session: %{}], %URI{}],
            do: {changes, {:invalid_commit, changes}}
          ) ++
            for(
              type <- ["session", 1, {:session}, self()],
              do: {%{type => %{"1" => ["v"]}}, {:invalid_key_type, type}}
            ) ++
            for(
              entries <- [[], nil, 3, [{"a", ["v"]}], %URI{}],
              do: {%{"device-list": entries}, {:invalid_commit, {:"device-list", entries}}}
            ) ++
            for id <- [self(), make_ref(), %{a: 1}, {1, 2}, fn -> :ok end],
                value <- [["v"], nil],
                do: {%{"device-list": %{id => value}}, {:invalid_key_id, id}}

        for {bad, reason} <- cases, changes <- among_good(bad) do
          assert m.commit(dir, changes) == {:error, reason}, inspect(changes)
          assert snapshot(dir) == before, inspect(changes)
        end
      end

      test "an id or type that names no file refuses the commit as save_keys does", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx
        dir = populated(ctx.backend, tmp_dir)
        before = snapshot(dir)
        scratch = Path.join(tmp_dir, "scratch")

        for {type, id} <- [
              {:"device-list", "a\0b"},
              {:"device-list", String.duplicate("y", 300)},
              {:"a\0b", "1"},
              {String.to_atom(String.duplicate("t", 255)), "1"}
            ],
            value <- [["v"], nil] do
          expected =
            if value,
              do: m.save_keys(scratch, type, id, value),
              else: m.delete_keys(scratch, type, id)

          assert {:error, _} = expected

          for changes <- among_good(%{type => %{id => value}}) do
            assert m.commit(dir, changes) == expected, inspect({type, id, value})
            assert snapshot(dir) == before
          end
        end
      end

      test "bad options or credentials refuse the commit", ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: tmp_dir} = ctx
        dir = populated(ctx.backend, tmp_dir)
        before = snapshot(dir)
        changes = %{"device-list": %{"1" => ["v"]}}
        state = Parity.creds(kind, 9)

        for {opts, reason} <- [
              {[credentials: 1], {:invalid_credentials, 1}},
              {[credentials: %{}], {:invalid_credentials, %{}}},
              {[credentials: nil], {:invalid_credentials, nil}},
              {[foo: 1], {:invalid_commit_options, [foo: 1]}},
              {[credentials: state, foo: 1],
               {:invalid_commit_options, [credentials: state, foo: 1]}},
              {"opts", {:invalid_commit_options, "opts"}},
              {%{credentials: state}, {:invalid_commit_options, %{credentials: state}}}
            ] do
          assert m.commit(dir, changes, opts) == {:error, reason}
          assert snapshot(dir) == before
        end

        # Credentials save_credentials refuses (JSON validates
        # additional_data; ETF stores any term).
        bad = %{state | additional_data: %{atom_key: self()}}

        case m.save_credentials(Path.join(tmp_dir, "scratch"), bad) do
          :ok ->
            :ok

          {:error, _} = expected ->
            assert m.commit(dir, changes, credentials: bad) == expected
            assert snapshot(dir) == before
        end
      end

      test "a context that is not a directory refuses the commit", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx
        changes = %{"device-list": %{"1" => ["v"]}}

        for context <- [42, ~c"dir", :dir, {:dir, tmp_dir}] do
          assert m.commit(context, changes) == {:error, {:invalid_context, context}}

          assert m.load_many(context, :"device-list", ["1"]) ==
                   {:error, {:invalid_context, context}}
        end

        assert m.commit(tmp_dir <> "\0x", changes) == {:error, :einval}
        assert File.ls!(tmp_dir) == []
      end

      test "a value save_keys refuses refuses the commit", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx
        dir = populated(ctx.backend, tmp_dir)
        before = snapshot(dir)
        scratch = Path.join(tmp_dir, "scratch")
        deep = Enum.reduce(1..300, "leaf", fn _, acc -> [acc] end)

        refused =
          for {type, value} <- [
                {:"device-list", deep},
                {:"device-list", %{"pid" => self()}},
                {:"lid-mapping", {:a, :tuple}},
                {:"pre-key", "not a key pair"},
                {:"device-list", Integer.pow(10, 20_000)}
              ],
              {:error, _} = expected <- [m.save_keys(scratch, type, "v", value)] do
            for changes <- among_good(%{type => %{"v" => value}}) do
              assert m.commit(dir, changes) == expected, inspect({type, value}, limit: 5)
              assert snapshot(dir) == before
            end

            type
          end

        # ETF stores any term; JSON refuses each of these.
        assert length(refused) == if(ctx.backend.name == :json, do: 5, else: 0)
      end

      test "an indexed id JSON cannot hold refuses the commit before anything is written", ctx do
        %{backend: %{module: m, name: kind}, tmp_dir: tmp_dir} = ctx
        dir = populated(ctx.backend, tmp_dir)
        before = snapshot(dir)
        id = <<0xFF, 0xFE>>
        changes = %{"device-list": %{"1" => ["v"], id => ["w"]}}

        case kind do
          :json ->
            assert {:error, {:invalid_json_data, _}} = m.commit(dir, changes)
            assert snapshot(dir) == before
            # An unindexed type never reaches the manifest.
            assert m.commit(dir, %{custom: %{id => ["w"]}}) == :ok

          :etf ->
            assert m.commit(dir, changes) == :ok
            assert m.load_many(dir, :"device-list", [id]) == {:ok, %{id => ["w"]}}
        end
      end

      test "a manifest of another backend refuses the commit", ctx do
        %{backend: %{module: m, name: kind} = backend, tmp_dir: tmp_dir} = ctx
        dir = populated(backend, tmp_dir)
        other = Backends.other(backend).backend_id
        manifest = Parity.encode_manifest(kind, %{"backend" => other, "version" => 1})
        File.write!(Path.join(dir, backend.manifest_file), manifest)
        before = snapshot(dir)

        assert m.commit(dir, %{"device-list": %{"1" => ["v"]}}) ==
                 {:error, {:unexpected_persistence_backend, m, other}}

        assert m.load_many(dir, :"device-list", ["1"]) ==
                 {:error, {:unexpected_persistence_backend, m, other}}

        assert snapshot(dir) == before
      end

      test "a commit over its limits is refused whole", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx
        dir = populated(ctx.backend, tmp_dir)
        before = snapshot(dir)

        deletes = Map.new(1..65_537, &{&1, nil})

        assert m.commit(dir, %{"device-list": deletes}) ==
                 {:error, {:commit_too_large, :mutations, 65_537, 65_536}}

        # Six values of 45 MiB: each within a JSON document's 64 MiB.
        big = :binary.copy("abcdefgh", div(45 * 1024 * 1024, 8))
        values = Map.new(1..6, &{&1, big})

        assert {:error, {:commit_too_large, :bytes, bytes, 268_435_456}} =
                 m.commit(dir, %{"device-list": values})

        assert bytes > 268_435_456
        assert snapshot(dir) == before
      end
    end
  end

  # Keys of several types and credentials, so a commit has files to
  # replace and remove, and a manifest to rewrite.
  defp populated(backend, tmp_dir) do
    dir = Path.join(tmp_dir, "auth")
    m = backend.module
    assert m.save_credentials(dir, Parity.creds(backend.name, 1)) == :ok

    for n <- 1..3 do
      assert m.save_keys(dir, :"device-list", "#{n}", ["#{n}"]) == :ok
      assert m.save_keys(dir, :"pre-key", n, DeterministicAuth.x25519_key_pair(n)) == :ok
    end

    dir
  end

  # The bad part alone, before good entries and after them (maps iterate
  # in term order: atoms before binaries, integers before atoms).
  defp among_good(bad) when is_map(bad) and not is_struct(bad) do
    good = %{"device-list": %{"1" => nil, "2" => ["new"], "4" => ["4"]}, session: %{"s" => nil}}
    [type] = Map.keys(bad)
    entries = bad[type]

    merged =
      case {good[type], entries} do
        {%{} = good_entries, %{}} when not is_struct(entries) ->
          Map.put(good, type, Map.merge(good_entries, entries))

        _ ->
          Map.merge(good, bad)
      end

    [bad, merged, Map.put(%{"pre-key": %{9 => nil}, tctoken: %{"t" => nil}}, type, entries)]
  end

  defp among_good(bad), do: [bad]

  defp snapshot(dir) do
    {:ok, names} = :file.list_dir_all(dir)

    for name <- names, into: %{} do
      name = if is_binary(name), do: name, else: List.to_string(name)
      {name, File.read!(Path.join(dir, name))}
    end
  end
end
