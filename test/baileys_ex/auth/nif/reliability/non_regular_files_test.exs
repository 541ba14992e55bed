defmodule BaileysEx.Auth.NIF.Reliability.NonRegularFilesTest do
  @moduledoc """
  Every file the library reads (credentials, a key, the manifest) must be a
  regular file no larger than the backend's cap. Anything else is an error
  at once, with nothing read: a symlink to `/dev/zero` or `/dev/urandom`
  (`{:not_a_regular_file, :character_device}`), a FIFO, which would block
  the opening thread for good (`{:not_a_regular_file, :fifo}`), a directory
  (`{:not_a_regular_file, :directory}`), and a 1 GB sparse file
  (`{:too_large, cap}`, the shape the JSON codec's own size limit has).

  Each call runs in its own process with a deadline, so a hang fails the
  test instead of stalling the run.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @moduletag timeout: 300_000
  @deadline 60_000
  @caps %{etf: 256 * 1024 * 1024, json: 64 * 1024 * 1024}

  @tag :tmp_dir
  test "non-regular and oversized files are errors, fast, for every file read",
       %{tmp_dir: tmp} do
    for backend <- Backend.all(), target <- [:creds, :key, :manifest] do
      for {label, make, reason} <- hostile_files(backend) do
        dir = Path.join([tmp, "#{backend.name}-#{target}-#{label}"])
        seed(backend, dir)
        path = target_path(backend, dir, target)
        File.rm!(path)
        make.(path)
        before = File.ls!(dir) |> Enum.sort()

        for {call, fun} <- calls(backend, dir, target) do
          result = bounded(Task.async(fun), path)

          assert result == {:error, reason},
                 "#{backend.name}: #{call} with #{label} as the #{target} file: #{inspect(result)}"
        end

        assert Enum.sort(File.ls!(dir)) == before, "#{backend.name}: a refused call wrote"
      end
    end
  end

  @tag :tmp_dir
  test "many calls on FIFOs at once leave the VM able to read files", %{tmp_dir: tmp} do
    for backend <- Backend.all() do
      dirs =
        for n <- 1..24 do
          dir = Path.join(tmp, "#{backend.name}-fifo-#{n}")
          seed(backend, dir)
          path = target_path(backend, dir, :creds)
          File.rm!(path)
          mkfifo(path)
          dir
        end

      # More callers than the VM has dirty IO schedulers (10 by default).
      tasks =
        Enum.map(dirs, fn dir -> Task.async(fn -> backend.module.load_credentials(dir) end) end)

      results =
        tasks
        |> Task.yield_many(@deadline)
        |> Enum.zip(dirs)
        |> Enum.map(fn
          {{_task, {:ok, result}}, _dir} -> result
          {{task, nil}, dir} -> give_up(task, Path.join(dir, backend.creds_file))
        end)

      assert Enum.uniq(results) == [{:error, {:not_a_regular_file, :fifo}}]

      other = Path.join(tmp, "#{backend.name}-other")
      assert :ok = backend.module.save_keys(other, :"device-list", "a", ["1"])
      assert backend.module.load_keys(other, :"device-list", "a") == {:ok, ["1"]}
      assert File.read!(Path.join(other, backend.manifest_file)) != ""
    end
  end

  defp hostile_files(backend) do
    cap = @caps[backend.name]

    [
      {"a symlink to /dev/zero", &File.ln_s!("/dev/zero", &1),
       {:not_a_regular_file, :character_device}},
      {"a symlink to /dev/urandom", &File.ln_s!("/dev/urandom", &1),
       {:not_a_regular_file, :character_device}},
      {"a FIFO", &mkfifo/1, {:not_a_regular_file, :fifo}},
      {"a directory", &File.mkdir!/1, {:not_a_regular_file, :directory}},
      {"a 1 GB sparse file", &sparse(&1, 1024 * 1024 * 1024), {:too_large, cap}}
    ]
  end

  # A directory with credentials, a key and a manifest, all regular files.
  defp seed(backend, dir) do
    assert :ok = backend.module.save_credentials(dir, Backend.creds(1))
    assert :ok = backend.module.save_keys(dir, :"device-list", "k", ["v"])
  end

  defp target_path(backend, dir, :creds), do: Path.join(dir, backend.creds_file)
  defp target_path(backend, dir, :key), do: Path.join(dir, "device-list-k" <> backend.ext)
  defp target_path(backend, dir, :manifest), do: Path.join(dir, backend.manifest_file)

  defp calls(backend, dir, :creds),
    do: [{"load_credentials", fn -> backend.module.load_credentials(dir) end}]

  defp calls(backend, dir, :key),
    do: [{"load_keys", fn -> backend.module.load_keys(dir, :"device-list", "k") end}]

  # A bad manifest stops every call before it touches anything else.
  defp calls(backend, dir, :manifest) do
    m = backend.module

    [
      {"load_keys", fn -> m.load_keys(dir, :"device-list", "k") end},
      {"load_credentials", fn -> m.load_credentials(dir) end},
      {"save_keys", fn -> m.save_keys(dir, :"device-list", "new", ["x"]) end},
      {"delete_keys", fn -> m.delete_keys(dir, :"device-list", "k") end},
      {"list_persisted_keys", fn -> m.list_persisted_keys(dir) end}
    ]
  end

  # The answer within the deadline.
  defp bounded(task, path) do
    case Task.yield(task, @deadline) do
      {:ok, result} -> result
      nil -> give_up(task, path)
    end
  end

  # A call still blocked opening a FIFO is released by a writer opening it
  # from outside the VM (the VM's own file calls would wait for the dirty IO
  # schedulers the blocked calls hold), so a failing run ends.
  defp give_up(task, path) do
    Port.open({:spawn_executable, System.find_executable("timeout")},
      args: ["30", "sh", "-c", ": > \"$1\"", "sh", path]
    )

    Task.shutdown(task, :brutal_kill)
    {:no_answer_within_ms, @deadline}
  end

  defp mkfifo(path) do
    assert {_, 0} = System.cmd("mkfifo", [path], stderr_to_stdout: true)
  end

  defp sparse(path, size) do
    {:ok, file} = :file.open(path, [:write, :raw, :binary])
    :ok = :file.pwrite(file, size - 1, <<0>>)
    :ok = :file.close(file)
  end
end
