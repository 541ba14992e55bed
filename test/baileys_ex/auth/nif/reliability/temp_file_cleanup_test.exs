defmodule BaileysEx.Auth.NIF.Reliability.TempFileCleanupTest do
  @moduledoc """
  The orphan cleanup a fresh OS process runs when it first opens a directory
  removes only temp files, and only those no live writer can still rename:

  * a key whose id looks like a temp name (`backup.tmp-1`) is a data file
    (its name ends in the backend's extension) and is never removed;
  * a temp file its writer holds a lock on is kept, however old it is and in
    whatever pid namespace the writer runs; once the lock is gone it is
    removed;
  * a temp file of the original module (which takes no lock) is removed only
    when it is older than the cleaning process and than a grace period.

  A writer saving 20 MB values while 15 other VMs open the directory never
  sees its temp file vanish (before the lock, a few saves in a hundred failed
  with `:enoent`).
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, SubVM}

  @moduletag timeout: 300_000

  @tmp_like_keys [
    {:"device-list", "backup.tmp-1", ["a"]},
    {:"sender-key-memory", "grp.tmp-99@g.us", %{"member" => true}},
    {:"lid-mapping", "x.etf.tmp-5", "1555@lid"},
    {:"device-list", "y.json.tmp-7-8", ["0", "3"]}
  ]

  @tag :tmp_dir
  test "keys named like temp files survive a fresh VM opening the directory", %{tmp_dir: tmp} do
    for backend <- Backend.all() do
      dir = Path.join(tmp, Atom.to_string(backend.name))
      m = backend.module

      for {type, id, value} <- @tmp_like_keys, do: assert(:ok = m.save_keys(dir, type, id, value))
      assert :ok = m.save_credentials(dir, Backend.creds(1))
      files = for {type, id, _} <- @tmp_like_keys, do: "#{type}-#{id}#{backend.ext}"
      assert files -- File.ls!(dir) == []

      assert {:ok, _} = open_in_fresh_vm(backend, dir)

      assert files -- File.ls!(dir) == [], "#{backend.name}: key files were removed"

      for {type, id, value} <- @tmp_like_keys do
        assert m.load_keys(dir, type, id) == {:ok, value}, "#{backend.name}: #{type} #{id}"
      end

      # The scan skips names with `.tmp-` as the original's does; the
      # manifest still lists every key.
      assert {:ok, listed} = m.list_persisted_keys(dir)

      for {type, id, _} <- @tmp_like_keys,
          do: assert(id in Map.fetch!(listed, type), "#{backend.name}: #{id} unlisted")
    end
  end

  @tag :tmp_dir
  test "a locked temp file is kept whatever its age; unlocked orphans are removed",
       %{tmp_dir: tmp} do
    for backend <- Backend.all() do
      dir = Path.join(tmp, Atom.to_string(backend.name))
      m = backend.module
      assert :ok = m.save_keys(dir, :"device-list", "a", ["1"])
      ext = backend.ext
      hour_ago = System.os_time(:second) - 3600

      # Our own shape (`<file>.tmp-<pid>-<n>`), the original's
      # (`<file>.tmp-<n>`), old enough that age alone would condemn them.
      ours = Path.join(dir, "device-list-a#{ext}.tmp-41-7")
      original = Path.join(dir, "device-list-b#{ext}.tmp-123456")
      # An unlocked temp file of the original's shape written just now: its
      # writer may still be about to rename it.
      recent = Path.join(dir, "device-list-c#{ext}.tmp-99")

      for path <- [ours, original, recent], do: File.write!(path, "partial")
      for path <- [ours, original], do: File.touch!(path, hour_ago)

      holders = Enum.map([ours, original], &hold_lock/1)
      assert {:ok, _} = open_in_fresh_vm(backend, dir)

      for path <- [ours, original, recent],
          do: assert(File.exists?(path), "#{backend.name}: #{Path.basename(path)} was removed")

      Enum.each(holders, &release_lock/1)
      assert {:ok, _} = open_in_fresh_vm(backend, dir)

      refute File.exists?(ours), "#{backend.name}: an unlocked orphan of ours stays"
      refute File.exists?(original), "#{backend.name}: an old unlocked orphan stays"
      assert File.exists?(recent), "#{backend.name}: a recent original temp file was removed"
      assert m.load_keys(dir, :"device-list", "a") == {:ok, ["1"]}

      IO.puts(
        "\ntemp cleanup: #{backend.name}: locked temp files kept " <>
          "(lock holder in #{holders |> hd() |> elem(1)}), unlocked orphans removed"
      )
    end
  end

  @tag :tmp_dir
  test "a writer of 20 MB values never loses its temp file to VMs opening the directory",
       %{tmp_dir: tmp} do
    for backend <- Backend.all() do
      dir = Path.join(tmp, Atom.to_string(backend.name))
      m = backend.module
      value = large_value(backend, 20_000_000)
      assert :ok = m.save_keys(dir, :"device-list", "big", value)
      parent = self()

      writer =
        spawn_link(fn ->
          results = write_until_stopped(m, dir, value, [])
          send(parent, {:saves, results})
        end)

      for _ <- 1..15, do: assert({:ok, _} = open_in_fresh_vm(backend, dir))
      send(writer, :stop)
      assert_receive {:saves, results}, 120_000

      failed = Enum.reject(results, &(&1 == :ok))

      IO.puts(
        "\ntemp cleanup: #{backend.name}: #{length(results)} saves of 20 MB while 15 VMs " <>
          "opened the directory: #{length(failed)} failed"
      )

      assert failed == []
      assert {:ok, ^value} = m.load_keys(dir, :"device-list", "big")
    end
  end

  defp write_until_stopped(m, dir, value, results) do
    receive do
      :stop -> results
    after
      0 ->
        write_until_stopped(m, dir, value, [
          m.save_keys(dir, :"device-list", "big", value) | results
        ])
    end
  end

  defp large_value(%{name: :etf}, size),
    do: :binary.copy(<<1, 2, 3, 4, 5, 6, 7, 8>>, div(size, 8))

  defp large_value(%{name: :json}, size), do: :binary.copy("abcdefgh", div(size, 8))

  # A fresh OS process runs the orphan cleanup when it first opens `dir`.
  defp open_in_fresh_vm(backend, dir) do
    expr =
      "[name, dir] = System.argv(); " <>
        "{:ok, b} = BaileysEx.Auth.NIF.Test.Reliability.Backend.fetch(name); " <>
        "{:ok, _} = b.module.list_persisted_keys(dir); IO.puts(\"OPENED\")"

    case SubVM.run(expr, [Atom.to_string(backend.name), dir], [], 120_000) do
      {0, lines} -> if "OPENED" in lines, do: {:ok, lines}, else: {:error, lines}
      other -> {:error, other}
    end
  end

  # `flock(1)` holds an exclusive lock on `path` as a live writer does, in a
  # separate pid namespace where the machine allows it, so that nothing but
  # the lock can tell the cleaner that the writer is alive. The shell reads
  # one line: sending it (or the port closing) ends the holder and its lock.
  defp hold_lock(path) do
    flock = System.find_executable("flock") || flunk("flock(1) is needed")
    args = ["-x", path, "-c", "echo LOCKED; read line"]

    {exe, args, where} =
      case unshare() do
        nil -> {flock, args, "this pid namespace"}
        unshare -> {unshare, ["--pid", "--fork", flock | args], "another pid namespace"}
      end

    port = Port.open({:spawn_executable, exe}, [:binary, {:line, 1024}, :exit_status, args: args])

    receive do
      {^port, {:data, {:eol, "LOCKED"}}} -> {port, where}
      {^port, {:exit_status, status}} -> flunk("flock exited with #{status}")
    after
      30_000 -> flunk("flock did not take the lock")
    end
  end

  defp release_lock({port, _where}) do
    Port.command(port, "done\n")

    receive do
      {^port, {:exit_status, 0}} -> :ok
    after
      30_000 -> flunk("the lock holder did not exit")
    end
  end

  defp unshare do
    with exe when is_binary(exe) <- System.find_executable("unshare"),
         {_, 0} <- System.cmd(exe, ["--pid", "--fork", "true"], stderr_to_stdout: true) do
      exe
    else
      _ -> nil
    end
  end
end
