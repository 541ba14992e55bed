defmodule BaileysEx.Auth.NIF.Reliability.CommitKernelErrorsTest do
  @moduledoc """
  Commits meeting real errors from the kernel: a full disk (ENOSPC on a
  64 KB tmpfs) and a read-only filesystem (EROFS after `mount -o
  remount,ro`). The commit answers `{:error, posix_atom}` and the directory
  is byte for byte as it was: no value half-applied, no temp file left.
  (A directory the caller may not write is covered with the single-key
  calls in `kernel_errors_test.exs`.)

  These need root that may mount; where the kernel or the user refuses,
  they are skipped with the reason printed.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, Privileges}
  alias BaileysEx.Auth.NIF.Test.DirSnapshot

  @moduletag timeout: 300_000
  @type_atom :"device-list"

  @mount_problem Privileges.mount_problem()

  if @mount_problem, do: IO.puts("\ncommit kernel errors: skipped: #{@mount_problem}")

  if @mount_problem, do: @tag(skip: @mount_problem)
  @tag :root
  test "a commit that does not fit answers :enospc and changes nothing" do
    for backend <- Backend.all() do
      dir = Path.join(Privileges.tmpfs!("commit-enospc", "64k"), "auth")
      m = backend.module
      small = for id <- ["a", "b"], into: %{}, do: {id, Backend.key_value(backend, id, 1)}
      assert :ok = m.commit(dir, %{@type_atom => small}, credentials: Backend.creds(1))
      before = DirSnapshot.take(dir)

      # Each value fits the disk alone; together they do not.
      pad = String.duplicate("x", 25_000)
      values = for id <- ["a", "c", "d"], into: %{}, do: {id, %{"id" => id, "pad" => pad}}
      alone = Path.join(Path.dirname(dir), "alone")
      assert :ok = m.save_keys(alone, @type_atom, "a", values["a"])
      File.rm_rf!(alone)
      assert m.commit(dir, %{@type_atom => Map.put(values, "b", nil)}) == {:error, :enospc}
      assert DirSnapshot.take(dir) == before
      assert m.load_many(dir, @type_atom, ["a", "b", "c"]) == {:ok, small}

      # Space enough again, the same directory commits.
      assert :ok = m.commit(dir, %{@type_atom => %{"a" => nil, "c" => small["a"]}})

      assert m.load_many(dir, @type_atom, ["a", "b", "c"]) ==
               {:ok, %{"b" => small["b"], "c" => small["a"]}}

      IO.puts(
        "\ncommit kernel errors: #{backend.name}: ENOSPC -> {:error, :enospc}, nothing changed"
      )
    end
  end

  if @mount_problem, do: @tag(skip: @mount_problem)
  @tag :root
  test "a commit on a read-only filesystem answers :erofs and changes nothing" do
    for backend <- Backend.all() do
      mount = Privileges.tmpfs!("commit-erofs", "1m")
      dir = Path.join(mount, "auth")
      m = backend.module
      old = %{"a" => Backend.key_value(backend, "a", 1)}
      assert :ok = m.commit(dir, %{@type_atom => old}, credentials: Backend.creds(1))
      before = DirSnapshot.take(dir)
      assert :ok = Privileges.remount_read_only(mount)

      for changes <- [
            %{@type_atom => %{"a" => Backend.key_value(backend, "a", 2)}},
            %{@type_atom => %{"a" => nil}},
            %{@type_atom => %{"b" => Backend.key_value(backend, "b", 2), "a" => nil}}
          ] do
        assert m.commit(dir, changes) == {:error, :erofs}
      end

      assert m.commit(dir, %{}, credentials: Backend.creds(2)) == {:error, :erofs}
      assert m.commit(Path.join(mount, "new"), %{@type_atom => old}) == {:error, :erofs}
      assert DirSnapshot.take(dir) == before
      assert m.load_many(dir, @type_atom, ["a", "b"]) == {:ok, old}

      IO.puts(
        "\ncommit kernel errors: #{backend.name}: EROFS -> {:error, :erofs}, nothing changed"
      )
    end
  end
end
