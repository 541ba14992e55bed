defmodule BaileysEx.Auth.NIF.Reliability.BadInputTest do
  @moduledoc """
  Hostile arguments and corrupt files never crash, hang or raise: each call
  answers `{:error, reason}` or a correct result, no path escapes the auth
  directory, and the atom table does not grow.

  Not async: the atom count is compared before and after, so no other test
  may load code or create atoms meanwhile.
  """
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, HostileCalls, MutatedFiles}

  @moduletag timeout: :infinity

  describe "hostile calls" do
    @tag :tmp_dir
    test "every hostile call answers correctly and nothing escapes the directory", %{
      tmp_dir: tmp_dir
    } do
      for backend <- Backend.all() do
        root = Path.join(tmp_dir, Atom.to_string(backend.name))
        dir = Path.join(root, "auth")
        calls = HostileCalls.table(backend, dir)

        # The first pass loads every code path the table touches.
        assert HostileCalls.run(calls, 120_000) == [], "#{backend.name}: first pass"
        atoms = :erlang.system_info(:atom_count)
        assert HostileCalls.run(calls, 120_000) == [], "#{backend.name}: second pass"
        assert :erlang.system_info(:atom_count) == atoms, "#{backend.name}: atoms were created"

        IO.puts("\nbad input: #{backend.name}: #{2 * length(calls)} hostile calls answered")

        assert File.ls!(root) == ["auth"],
               "a file escaped the directory: #{inspect(File.ls!(root))}"

        assert Backend.temp_files(dir) == []
        assert :ok = backend.module.save_keys(dir, :"device-list", "1", %{"still" => "working"})
        assert {:ok, %{"still" => "working"}} = backend.module.load_keys(dir, :"device-list", "1")
      end
    end

    @tag :tmp_dir
    test "an id whose file name fits but whose temp name does not", %{tmp_dir: tmp_dir} do
      twins = %{
        etf: BaileysEx.Auth.NIF.Baseline.NativeFilePersistence,
        json: BaileysEx.Auth.NIF.Baseline.FilePersistence
      }

      for backend <- Backend.all() do
        dir = Path.join(tmp_dir, Atom.to_string(backend.name))
        # Everything up to the longest saveable name round-trips; one byte
        # more is refused cleanly with :enametoolong and leaves nothing behind.
        ours = longest_name(backend.module, dir, backend.ext)
        original = longest_name(twins[backend.name], dir <> "_original", backend.ext)

        IO.puts(
          "\nbad input: #{backend.name}: longest saveable key file name #{ours} bytes " <>
            "(pure-Elixir twin of the original: #{original}; the file system allows 255, " <>
            "the temp name's suffix takes the rest)"
        )

        assert ours >= 220
        assert Backend.temp_files(dir) == []
      end
    end
  end

  defp longest_name(module, dir, ext) do
    prefix = "device-list-"

    longest =
      Enum.reduce_while(200..(255 - byte_size(prefix)), nil, fn len, last ->
        id = String.duplicate("n", len)

        case module.save_keys(dir, :"device-list", id, "v") do
          :ok ->
            assert module.load_keys(dir, :"device-list", id) == {:ok, "v"}
            {:cont, len}

          {:error, :enametoolong} ->
            {:halt, last}
        end
      end)

    byte_size(prefix) + longest + byte_size(ext)
  end

  describe "corrupt files" do
    @tag :tmp_dir
    test "every truncation and byte flip of every fixture file, and random files", %{
      tmp_dir: tmp_dir
    } do
      sweep(tmp_dir, :quick, :rotate, 3_000)
    end

    @tag :stress
    @tag :tmp_dir
    test "a million corrupt inputs", %{tmp_dir: tmp_dir} do
      total = sweep(tmp_dir, :stress, :all, 120_000)
      assert total >= 1_000_000
    end
  end

  defp sweep(tmp_dir, level, placements, random) do
    progress = :ets.new(:progress, [:public])
    seed = :erlang.unique_integer([:positive])

    results =
      for backend <- Backend.all() do
        root = Path.join(tmp_dir, Atom.to_string(backend.name))

        # Warm up on a slice so every code path is loaded before counting atoms.
        warm = MutatedFiles.inputs(backend, :quick, 200, seed) |> Stream.take(3_000)
        assert MutatedFiles.run(backend, root, warm, progress).failures == []

        atoms = :erlang.system_info(:atom_count)
        inputs = MutatedFiles.inputs(backend, level, random, seed)
        task = Task.async(fn -> MutatedFiles.run(backend, root, inputs, progress, placements) end)

        result =
          case Task.yield(task, 3_600_000) || Task.shutdown(task, :brutal_kill) do
            {:ok, result} -> result
            _ -> flunk("hung on #{inspect(:ets.lookup(progress, :current))}")
          end

        IO.puts(
          "\nbad input: #{backend.name}: #{result.inputs} corrupt inputs, #{result.calls} calls " <>
            "(seed #{seed}), #{length(result.failures)} failures"
        )

        assert result.failures == [], inspect(Enum.take(result.failures, 10), limit: 20)
        assert :erlang.system_info(:atom_count) == atoms, "#{backend.name}: atoms were created"
        result.inputs
      end

    Enum.sum(results)
  end
end
