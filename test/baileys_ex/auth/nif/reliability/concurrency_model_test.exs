defmodule BaileysEx.Auth.NIF.Reliability.ConcurrencyModelTest do
  @moduledoc """
  Many processes save, load and delete overlapping keys at once, one by one
  and in commits of several keys, and read them one by one and with
  `load_many`; the history must be consistent with one register per key
  (a commit is a write of each of its keys, a `load_many` a read of each),
  at the end every file and the manifest hold what some last write left,
  and the final state must be what applying every commit whole, one at a
  time, can leave.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, RegisterModel}

  @moduletag timeout: :infinity
  @type_atom :"device-list"

  @tag :tmp_dir
  test "16 processes x 500 random ops over 50 shared ids", %{tmp_dir: tmp_dir} do
    for backend <- Backend.all(), do: run_model(backend, tmp_dir, 16, 500, 50)
  end

  @tag :stress
  @tag :tmp_dir
  test "64 processes x 2000 random ops over 100 shared ids", %{tmp_dir: tmp_dir} do
    for backend <- Backend.all(), round <- 1..2 do
      run_model(backend, Path.join(tmp_dir, "round#{round}"), 64, 2_000, 100)
    end
  end

  test "the model catches stale reads, phantom values and lost writes" do
    t = fn tag, op, value, result, start, stop ->
      %{tag: tag, op: op, id: "a", value: value, result: result, start: start, stop: stop}
    end

    save1 = t.(1, :save, 1, :ok, 0, 10)
    save2 = t.(2, :save, 2, :ok, 20, 30)
    delete = t.(3, :delete, nil, :ok, 40, 50)

    assert RegisterModel.check_history([save1, save2, t.(4, :load, nil, {:ok, 2}, 35, 38)]) == []
    assert [_] = RegisterModel.check_history([save1, save2, t.(4, :load, nil, {:ok, 1}, 35, 38)])
    assert [_] = RegisterModel.check_history([save1, t.(4, :load, nil, {:ok, 9}, 35, 38)])

    assert [_] =
             RegisterModel.check_history([save1, t.(4, :load, nil, {:error, :not_found}, 15, 18)])

    assert [] =
             RegisterModel.check_history([save1, t.(4, :load, nil, {:error, :not_found}, 5, 18)])

    assert [_] = RegisterModel.check_history([save1, t.(4, :load, nil, {:ok, 1}, -9, -5)])
    assert [_] = RegisterModel.check_history([t.(5, :save, 1, {:error, :eio}, 0, 1)])

    history = [save1, save2, delete]
    assert RegisterModel.final_effects(history, "a") == [:absent]

    assert RegisterModel.final_effects([save1, %{save2 | start: 5}], "a") == [
             {:value, 1},
             {:value, 2}
           ]

    assert RegisterModel.final_effects(history, "never") == [:absent]

    # Two overlapping commits of keys a and b, and a save of a after both.
    part = fn commit, id, value ->
      %{tag: {commit, id}, commit: commit, op: :save, id: id, value: value, result: :ok}
      |> Map.merge(%{start: 0, stop: 10})
    end

    commits = [part.(:c1, "a", 1), part.(:c1, "b", 1), part.(:c2, "a", 2), part.(:c2, "b", 2)]
    later = %{tag: 9, op: :save, id: "a", value: 9, result: :ok, start: 20, stop: 30}

    assert RegisterModel.check_commit_order(commits, %{"a" => {:value, 2}, "b" => {:value, 2}}) ==
             []

    assert [crossed] =
             RegisterModel.check_commit_order(commits, %{"a" => {:value, 1}, "b" => {:value, 2}})

    assert crossed =~ ":c1" and crossed =~ ":c2"

    assert RegisterModel.check_commit_order([later | commits], %{
             "a" => {:value, 9},
             "b" => {:value, 1}
           }) == []
  end

  defp run_model(backend, tmp_dir, procs, ops, ids) do
    dir = Path.join(tmp_dir, Atom.to_string(backend.name))
    seed = :erlang.unique_integer([:positive])

    calls =
      1..procs
      |> Enum.map(fn p -> Task.async(fn -> worker(backend, dir, p, ops, ids, seed) end) end)
      |> Task.await_many(:infinity)
      |> Enum.concat()

    assert length(calls) == procs * ops
    history = List.flatten(calls)
    problems = RegisterModel.check_history(history)
    assert problems == [], "#{backend.name}: #{inspect(Enum.take(problems, 10))}"

    id_names = for n <- 1..ids, do: "id#{n}"
    {:ok, index} = Backend.manifest(backend, dir)
    listed = Map.get(index, Atom.to_string(@type_atom), [])

    finals =
      Map.new(id_names, fn id ->
        case backend.module.load_keys(dir, @type_atom, id) do
          {:ok, value} -> {id, {:value, value}}
          {:error, :not_found} -> {id, :absent}
        end
      end)

    assert RegisterModel.check_commit_order(history, finals) == [], "#{backend.name}"

    disagreements =
      for id <- id_names, reduce: %{phantom: 0, unlisted: 0} do
        acc ->
          effects = RegisterModel.final_effects(history, id)
          file = finals[id]

          assert file in effects,
                 "#{backend.name}: #{id} ended as #{inspect(file)}, not a last write's #{inspect(effects)}"

          in_manifest = id in listed
          manifest_effects = Enum.map(effects, &(&1 != :absent))

          assert in_manifest in manifest_effects,
                 "#{backend.name}: manifest lists #{id}: #{in_manifest}; last writes #{inspect(effects)}"

          case {in_manifest, file} do
            {true, :absent} -> Map.update!(acc, :phantom, &(&1 + 1))
            {false, {:value, _}} -> Map.update!(acc, :unlisted, &(&1 + 1))
            _ -> acc
          end
      end

    assert Backend.temp_files(dir) == []

    files = Backend.data_files(backend, dir)

    assert Enum.all?(
             files,
             &match?({:ok, _}, Backend.decode_file(backend, File.read!(Path.join(dir, &1))))
           )

    {:ok, listing} = backend.module.list_persisted_keys(dir)

    on_disk =
      for id <- id_names, match?({:ok, _}, backend.module.load_keys(dir, @type_atom, id)), do: id

    assert on_disk -- Map.get(listing, @type_atom, []) == [], "listing misses a key on disk"

    counts = Enum.frequencies_by(calls, &call_kind/1)

    IO.puts(
      "\nconcurrency model: #{backend.name}: #{length(calls)} calls " <>
        "(#{counts[:save]} saves, #{counts[:load]} loads, #{counts[:delete]} deletes, " <>
        "#{counts[:commit]} commits, #{counts[:load_many]} load_many) making #{length(history)} " <>
        "register ops by #{procs} processes " <>
        "over #{ids} ids, 0 violations; racing save/delete left the manifest and the file from " <>
        "different last writes for #{disagreements.phantom + disagreements.unlisted} ids " <>
        "(#{disagreements.phantom} listed without a file, #{disagreements.unlisted} files not in the manifest)"
    )
  end

  # One list of register ops per call: one for a single-key call, one per
  # key for a commit or a load_many.
  defp worker(backend, dir, p, ops, ids, seed) do
    :rand.seed(:exsss, {seed, p, 1})
    m = backend.module

    for n <- 1..ops do
      id = "id#{:rand.uniform(ids)}"
      roll = :rand.uniform(100)
      tag = {p, n}

      cond do
        roll <= 35 ->
          value = %{"p" => p, "n" => n}
          timed(tag, :save, id, value, fn -> m.save_keys(dir, @type_atom, id, value) end)

        roll <= 60 ->
          timed(tag, :load, id, nil, fn -> m.load_keys(dir, @type_atom, id) end)

        roll <= 75 ->
          timed(tag, :delete, id, nil, fn -> m.delete_keys(dir, @type_atom, id) end)

        roll <= 90 ->
          commit(m, dir, tag, some_ids(ids))

        true ->
          load_many(m, dir, tag, some_ids(ids))
      end
    end
  end

  defp some_ids(ids),
    do: Enum.uniq(for _ <- 1..(1 + :rand.uniform(3)), do: "id#{:rand.uniform(ids)}")

  defp timed(tag, op, id, value, fun) do
    start = System.monotonic_time()
    result = fun.()
    stop = System.monotonic_time()
    [%{tag: tag, op: op, id: id, value: value, result: result, start: start, stop: stop}]
  end

  # A quarter of a commit's keys are deleted; every value saved is unique.
  defp commit(m, dir, {p, n} = tag, ids) do
    entries =
      Map.new(ids, fn id ->
        {id, if(:rand.uniform(4) == 1, do: nil, else: %{"p" => p, "n" => n, "id" => id})}
      end)

    start = System.monotonic_time()
    result = m.commit(dir, %{@type_atom => entries})
    stop = System.monotonic_time()

    for {id, value} <- entries do
      op = if value == nil, do: :delete, else: :save

      %{tag: {p, n, id}, commit: tag, op: op, id: id, value: value, result: result}
      |> Map.merge(%{start: start, stop: stop})
    end
  end

  defp load_many(m, dir, {p, n}, ids) do
    start = System.monotonic_time()
    result = m.load_many(dir, @type_atom, ids)
    stop = System.monotonic_time()

    for id <- ids do
      result =
        case result do
          {:ok, %{^id => value}} -> {:ok, value}
          {:ok, %{}} -> {:error, :not_found}
          error -> error
        end

      %{tag: {p, n, id}, op: :load, id: id, value: nil, result: result, start: start, stop: stop}
    end
  end

  defp call_kind([%{commit: _} | _]), do: :commit
  defp call_kind([%{op: :load}, _ | _]), do: :load_many
  defp call_kind([%{tag: {_, _, _}, op: :load}]), do: :load_many
  defp call_kind([%{op: op}]), do: op
end
