defmodule BaileysEx.Auth.NIF.Reliability.CallerKilledTest do
  @moduledoc """
  A process killed (`Process.exit(pid, :kill)`) while its large save runs.

  The native call cannot be interrupted: it runs to completion on its dirty
  scheduler after the caller is gone, and its write may land after a save
  another process makes later. What must hold: every read sees the old
  content or the new, never a mix; the file's lock is released, so a
  following save of the same key succeeds; once the killed call has
  finished, the file holds the last save's value or the killed one's, and
  no temp file is left.

  Not async: "the killed call has finished" is read from the VM's count of
  active dirty IO tasks, which must be ours alone.
  """
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @moduletag timeout: :infinity

  @tag :tmp_dir
  test "killing the caller mid-save leaves old or new content and frees the lock", %{
    tmp_dir: tmp_dir
  } do
    for backend <- Backend.all(), do: kill_savers(backend, tmp_dir, 12, 20_000_000)
  end

  @tag :stress
  @tag :tmp_dir
  test "two hundred callers killed mid-save", %{tmp_dir: tmp_dir} do
    for backend <- Backend.all(), do: kill_savers(backend, tmp_dir, 200, 30_000_000)
  end

  defp kill_savers(backend, tmp_dir, rounds, size) do
    dir = Path.join(tmp_dir, Atom.to_string(backend.name))
    type = :"device-list"
    id = "victim"
    :rand.seed(:exsss, {:erlang.unique_integer([:positive]), 3, 5})
    blob = large(backend, size)

    outcomes =
      for round <- 1..rounds do
        old = %{"round" => round, "state" => "old"}
        new = %{"round" => round, "state" => "new", "blob" => blob}
        later = %{"round" => round, "state" => "later"}
        assert :ok = backend.module.save_keys(dir, type, id, old)

        {pid, ref} = spawn_monitor(fn -> backend.module.save_keys(dir, type, id, new) end)
        Process.sleep(:rand.uniform(40) - 1)
        Process.exit(pid, :kill)
        assert_receive {:DOWN, ^ref, :process, ^pid, reason}, 60_000

        # Whatever the dirty scheduler is still doing, a reader sees a whole file.
        seen = backend.module.load_keys(dir, type, id)
        assert seen in [{:ok, old}, {:ok, new}], "round #{round}: #{inspect(seen, limit: 5)}"

        # Waits for the file's lock if the killed call holds it, then wins it.
        task = Task.async(fn -> backend.module.save_keys(dir, type, id, later) end)

        assert {:ok, :ok} = Task.yield(task, 120_000) || Task.shutdown(task),
               "round #{round}: the file's lock was never released"

        assert wait_for_dirty_io_idle(60_000), "round #{round}: the killed call never finished"
        final = backend.module.load_keys(dir, type, id)
        assert final in [{:ok, later}, {:ok, new}], "round #{round}: #{inspect(final, limit: 5)}"
        assert Backend.temp_files(dir) == []

        %{
          killed_mid_call: reason == :killed and seen == {:ok, old},
          landed_late: final == {:ok, new}
        }
      end

    mid_call = Enum.count(outcomes, & &1.killed_mid_call)
    late = Enum.count(outcomes, & &1.landed_late)

    IO.puts(
      "\ncaller killed: #{backend.name}: #{rounds} callers killed during a #{div(size, 1_000_000)} MB " <>
        "save; #{mid_call} killed before their write committed, of which #{late} wrote after " <>
        "the next caller's save (the killed call runs to completion); lock released every time"
    )

    assert mid_call > 0, "no kill landed before the save committed; the test proved nothing"
    File.rm_rf!(dir)
  end

  # The killed caller's native call runs on a dirty IO scheduler; it has
  # finished once no dirty IO task is active.
  defp wait_for_dirty_io_idle(left) when left <= 0, do: false

  defp wait_for_dirty_io_idle(left) do
    if List.last(:erlang.statistics(:active_tasks_all)) == 0 do
      true
    else
      Process.sleep(2)
      wait_for_dirty_io_idle(left - 2)
    end
  end

  defp large(%{name: :etf}, size), do: :binary.copy(<<1, 2, 3, 4, 5, 6, 7, 8>>, div(size, 8))
  defp large(%{name: :json}, size), do: :binary.copy("abcdefgh", div(size, 8))
end
