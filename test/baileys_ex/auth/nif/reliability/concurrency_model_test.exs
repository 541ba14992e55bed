defmodule BaileysEx.Auth.NIF.Reliability.ConcurrencyModelTest do
  @moduledoc """
  Many processes save, load and delete overlapping keys at once; the
  history must be consistent with one register per key, and at the end
  every file and the manifest hold what some last write left.
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
  end

  defp run_model(backend, tmp_dir, procs, ops, ids) do
    dir = Path.join(tmp_dir, Atom.to_string(backend.name))
    seed = :erlang.unique_integer([:positive])

    history =
      1..procs
      |> Enum.map(fn p -> Task.async(fn -> worker(backend, dir, p, ops, ids, seed) end) end)
      |> Task.await_many(:infinity)
      |> List.flatten()

    assert length(history) == procs * ops
    problems = RegisterModel.check_history(history)
    assert problems == [], "#{backend.name}: #{inspect(Enum.take(problems, 10))}"

    id_names = for n <- 1..ids, do: "id#{n}"
    {:ok, index} = Backend.manifest(backend, dir)
    listed = Map.get(index, Atom.to_string(@type_atom), [])

    disagreements =
      for id <- id_names, reduce: %{phantom: 0, unlisted: 0} do
        acc ->
          effects = RegisterModel.final_effects(history, id)

          file =
            case backend.module.load_keys(dir, @type_atom, id) do
              {:ok, value} -> {:value, value}
              {:error, :not_found} -> :absent
            end

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

    counts = Enum.frequencies_by(history, & &1.op)

    IO.puts(
      "\nconcurrency model: #{backend.name}: #{length(history)} ops " <>
        "(#{counts[:save]} saves, #{counts[:load]} loads, #{counts[:delete]} deletes) by #{procs} processes " <>
        "over #{ids} ids, 0 violations; racing save/delete left the manifest and the file from " <>
        "different last writes for #{disagreements.phantom + disagreements.unlisted} ids " <>
        "(#{disagreements.phantom} listed without a file, #{disagreements.unlisted} files not in the manifest)"
    )
  end

  defp worker(backend, dir, p, ops, ids, seed) do
    :rand.seed(:exsss, {seed, p, 1})

    for n <- 1..ops do
      id = "id#{:rand.uniform(ids)}"
      roll = :rand.uniform(100)
      tag = {p, n}

      {op, value, fun} =
        cond do
          roll <= 40 ->
            value = %{"p" => p, "n" => n}
            {:save, value, fn -> backend.module.save_keys(dir, @type_atom, id, value) end}

          roll <= 75 ->
            {:load, nil, fn -> backend.module.load_keys(dir, @type_atom, id) end}

          true ->
            {:delete, nil, fn -> backend.module.delete_keys(dir, @type_atom, id) end}
        end

      start = System.monotonic_time()
      result = fun.()
      stop = System.monotonic_time()
      %{tag: tag, op: op, id: id, value: value, result: result, start: start, stop: stop}
    end
  end
end
