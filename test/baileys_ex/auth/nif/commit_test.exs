defmodule BaileysEx.Auth.NIF.CommitTest do
  @moduledoc """
  `commit/3` against the same saves and deletes made one by one, written
  once and run per backend: over random seeded sets, the directory a commit
  leaves has the same files with the same bytes, the same listing and the
  same loads as the NIF's own one-by-one calls leave, and the same files as
  the pure-Elixir twin of the original leaves (byte for byte for ETF, equal
  as JSON for JSON). `COMMIT_SEED` replays a run.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.Parity

  @cases 25
  @types [:session, :"pre-key", :"sender-key", :"device-list", :"lid-mapping", :tctoken, :custom]
  # Ids that share a file (7 and "7"; "a/b" and "a__b"; "x:y" and "x-y")
  # or are listed under another spelling by the scan.
  @ids ["1", "2", 7, "7", "a/b", "a__b", "x:y", "x-y", "g@g.us::s/x::3", "15551112222.1"]

  for backend <- Backends.all() do
    describe backend.title do
      @describetag :tmp_dir
      @describetag backend: backend

      test "a commit leaves what the same saves and deletes one by one leave", ctx do
        %{backend: backend, tmp_dir: tmp_dir} = ctx
        seed = seed()
        IO.puts("\ncommit: #{backend.name}: #{@cases} random commits (COMMIT_SEED=#{seed})")
        rng = :rand.seed_s(:exsss, {seed, 1, 2})

        Enum.reduce(1..@cases, rng, fn n, rng ->
          root = Path.join(tmp_dir, "case#{n}")
          {history, rng} = random_ops(rng, backend, 12)
          {changes, creds, rng} = random_commit(rng, backend)
          opts = if creds, do: [credentials: creds], else: []

          dirs =
            for {name, module} <- [all: backend.module, one: backend.module, twin: backend.twin],
                into: %{} do
              dir = Path.join(root, Atom.to_string(name))
              assert apply_ops(module, dir, history) == [], "#{name}: setting up case #{n}"
              {name, dir}
            end

          label = "case #{n} (COMMIT_SEED=#{seed}): #{inspect(changes, limit: 8)}"
          assert backend.module.commit(dirs.all, changes, opts) == :ok, label
          ops = commit_ops(changes, creds)
          assert apply_ops(backend.module, dirs.one, ops) == [], label
          assert apply_ops(backend.twin, dirs.twin, ops) == [], label

          assert_same_directory(backend, dirs.all, dirs.one, label)
          assert_same_files(backend, dirs.all, dirs.twin, label)
          assert_same_reads(backend, dirs.all, dirs.one, label)
          rng
        end)
      end

      test "credentials join the commit and are written first", ctx do
        %{backend: %{module: m, name: kind} = backend, tmp_dir: tmp_dir} = ctx
        all = Path.join(tmp_dir, "all")
        one = Path.join(tmp_dir, "one")
        state = Parity.creds(kind, 5)
        pair = DeterministicAuth.x25519_key_pair(5)

        assert m.commit(all, %{"pre-key": %{1 => pair, 2 => pair}}, credentials: state) == :ok
        assert m.save_credentials(one, state) == :ok
        assert m.save_keys(one, :"pre-key", 1, pair) == :ok
        assert m.save_keys(one, :"pre-key", 2, pair) == :ok

        assert_same_directory(backend, all, one, "credentials")
        assert m.load_credentials(all) == {:ok, Parity.loaded(kind, :creds, state)}

        # Credentials alone, and nothing at all.
        assert m.commit(all, %{}, credentials: Parity.creds(kind, 6)) == :ok

        assert m.load_credentials(all) ==
                 {:ok, Parity.loaded(kind, :creds, Parity.creds(kind, 6))}

        before = snapshot(all)
        assert m.commit(all, %{}) == :ok
        assert m.commit(all, %{session: %{}, "pre-key": %{}}) == :ok
        assert snapshot(all) == before
      end

      test "an empty commit into a missing directory creates it, as every call does", ctx do
        %{backend: %{module: m}, tmp_dir: tmp_dir} = ctx
        dir = Path.join([tmp_dir, "nested", "auth"])

        assert m.commit(dir, %{}) == :ok
        assert File.ls!(dir) == []
      end
    end
  end

  defp seed do
    case System.get_env("COMMIT_SEED") do
      nil -> :erlang.unique_integer([:positive])
      text -> String.to_integer(text)
    end
  end

  # A directory's history before the commit: saves and deletes, creds now
  # and then (an empty history leaves no directory at all).
  defp random_ops(rng, backend, max) do
    {count, rng} = :rand.uniform_s(max + 1, rng)

    Enum.map_reduce(1..(count - 1)//1, rng, fn _, rng ->
      {roll, rng} = :rand.uniform_s(10, rng)
      {type, rng} = pick(@types, rng)
      {id, rng} = pick(@ids, rng)
      {n, rng} = :rand.uniform_s(1000, rng)

      cond do
        roll == 1 -> {{:creds, Parity.creds(backend.name, n)}, rng}
        roll <= 3 -> {{:delete, type, id, "history"}, rng}
        true -> {{:save, type, id, value(type, n), "history"}, rng}
      end
    end)
  end

  # 1 to 4 types of 0 to 8 entries each, a quarter of them deletes, and
  # credentials in a third of the commits.
  defp random_commit(rng, backend) do
    {type_count, rng} = :rand.uniform_s(4, rng)

    {changes, rng} =
      Enum.reduce(1..type_count, {%{}, rng}, fn _, {changes, rng} ->
        {type, rng} = pick(@types, rng)
        {entry_count, rng} = :rand.uniform_s(9, rng)

        {entries, rng} =
          Enum.reduce(1..(entry_count - 1)//1, {%{}, rng}, fn _, {entries, rng} ->
            {id, rng} = pick(@ids, rng)
            {roll, rng} = :rand.uniform_s(4, rng)
            {n, rng} = :rand.uniform_s(1000, rng)
            {Map.put(entries, id, if(roll == 1, do: nil, else: value(type, n))), rng}
          end)

        {Map.put(changes, type, entries), rng}
      end)

    {roll, rng} = :rand.uniform_s(3, rng)
    {n, rng} = :rand.uniform_s(1000, rng)
    {changes, if(roll == 1, do: Parity.creds(backend.name, n)), rng}
  end

  defp pick(list, rng) do
    {i, rng} = :rand.uniform_s(length(list), rng)
    {Enum.at(list, i - 1), rng}
  end

  # Values every backend stores and loads back exactly.
  defp value(:session, n), do: Parity.session_record(n)
  defp value(:"pre-key", n), do: DeterministicAuth.x25519_key_pair(n)
  defp value(:"sender-key", n), do: Parity.sender_key_record(n)
  defp value(:"device-list", n), do: Enum.map(0..rem(n, 4), &Integer.to_string(&1 * n))
  defp value(:"lid-mapping", n), do: Integer.to_string(n)
  defp value(:custom, n), do: %{"n" => n, "list" => [n, "x"]}

  defp value(:tctoken, n),
    do: %{token: <<n::32>>, timestamp: Integer.to_string(1_710_000_000 + n), sender_timestamp: n}

  # The commit as one-by-one calls, in the order it applies them.
  defp commit_ops(changes, creds) do
    creds_ops = if creds, do: [{:creds, creds}], else: []

    creds_ops ++
      for {type, entries} <- changes, {id, value} <- entries do
        if value == nil,
          do: {:delete, type, id, "commit"},
          else: {:save, type, id, value, "commit"}
      end
  end

  defp apply_ops(module, dir, ops), do: Parity.replay(module, dir, ops)

  # Every entry, names that are not UTF-8 included, with its bytes. A
  # missing directory counts as empty: a commit creates its directory, as
  # every call does, even when it has nothing to write.
  defp snapshot(dir) do
    case :file.list_dir_all(dir) do
      {:ok, names} ->
        for name <- names, into: %{} do
          name = if is_binary(name), do: name, else: List.to_string(name)
          {name, File.read!(Path.join(dir, name))}
        end

      {:error, :enoent} ->
        %{}
    end
  end

  defp assert_same_directory(_backend, a, b, label) do
    assert snapshot(a) == snapshot(b), label
  end

  # The twin writes the same names; ETF bytes are the VM's own, JSON
  # documents are equal as JSON.
  defp assert_same_files(%{name: :etf}, a, b, label),
    do: assert(snapshot(a) == snapshot(b), label)

  defp assert_same_files(%{name: :json}, a, b, label) do
    decode = fn snapshot ->
      Map.new(snapshot, fn {name, bytes} -> {name, JSONCodec.decode(bytes)} end)
    end

    assert decode.(snapshot(a)) == decode.(snapshot(b)), label
  end

  defp assert_same_reads(%{module: m} = backend, a, b, label) do
    if File.dir?(a) do
      assert m.list_persisted_keys(a) == m.list_persisted_keys(b), label

      # Missing credentials load as fresh random keys, never equal.
      if File.exists?(Path.join(a, backend.creds_file)),
        do: assert(m.load_credentials(a) == m.load_credentials(b), label)

      for type <- @types do
        loads = for id <- @ids, into: %{}, do: {id, m.load_keys(a, type, id)}
        assert loads == Map.new(@ids, &{&1, m.load_keys(b, type, &1)}), label

        found = for {id, {:ok, value}} <- loads, into: %{}, do: {id, value}
        assert m.load_many(a, type, @ids) == {:ok, found}, label
      end
    end
  end
end
