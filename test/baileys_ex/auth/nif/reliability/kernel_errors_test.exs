defmodule BaileysEx.Auth.NIF.Reliability.KernelErrorsTest do
  @moduledoc """
  Real errors from the kernel, end to end through the NIF: a full disk
  (ENOSPC on a 64 KB tmpfs), a read-only filesystem (EROFS after
  `mount -o remount,ro`) and a directory the caller may not write (EACCES,
  from a second VM running as `nobody`). Each write answers
  `{:error, posix_atom}`, the previous data survives, and no temp file is
  left.

  These need root that may mount (CI runs as root). Where the kernel or the
  user refuses, the tests are skipped with the reason printed.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, Privileges, SubVM}
  alias BaileysEx.Auth.NIF.Test.DirSnapshot

  @moduletag timeout: 900_000
  @type_atom :"device-list"

  @mount_problem Privileges.mount_problem()
  @user "nobody"
  @user_problem Privileges.unprivileged_problem(@user)

  for {name, problem} <- [mount: @mount_problem, unprivileged_vm: @user_problem], problem do
    IO.puts("\nkernel errors: skipping the #{name} tests: #{problem}")
  end

  if @mount_problem, do: @tag(skip: @mount_problem)
  @tag :root
  test "a full disk answers :enospc and keeps the previous data", _context do
    for backend <- Backend.all() do
      dir = Path.join(Privileges.tmpfs!("enospc", "64k"), "auth")
      m = backend.module
      small = Backend.key_value(backend, "a", 1)
      assert :ok = m.save_keys(dir, @type_atom, "a", small)
      assert :ok = m.save_credentials(dir, Backend.creds(1))

      big = Backend.key_value(backend, "a", 16)
      assert m.save_keys(dir, @type_atom, "a", big) == {:error, :enospc}

      assert m.save_keys(dir, @type_atom, "b", Backend.key_value(backend, "b", 32)) ==
               {:error, :enospc}

      huge_creds = %{Backend.creds(2) | routing_info: :binary.copy(<<9>>, 200_000)}
      assert m.save_credentials(dir, huge_creds) == {:error, :enospc}

      assert m.load_keys(dir, @type_atom, "a") == {:ok, small}
      assert {:ok, creds} = m.load_credentials(dir)
      assert Backend.check_creds(creds) == {:ok, 1}
      assert m.load_keys(dir, @type_atom, "b") == {:error, :not_found}
      assert {:ok, %{"device-list" => ["a"]}} = Backend.manifest(backend, dir)
      assert Backend.temp_files(dir) == []

      # Space freed, the same directory works again.
      assert :ok = m.save_keys(dir, @type_atom, "a", Backend.key_value(backend, "a", 3))

      IO.puts(
        "\nkernel errors: #{backend.name}: ENOSPC on a 64 KB tmpfs -> {:error, :enospc}, data kept"
      )
    end
  end

  if @mount_problem, do: @tag(skip: @mount_problem)
  @tag :root
  test "a read-only filesystem answers :erofs and keeps the previous data", _context do
    for backend <- Backend.all() do
      mount = Privileges.tmpfs!("erofs", "1m")
      dir = Path.join(mount, "auth")
      m = backend.module
      old = Backend.key_value(backend, "a", 1)
      assert :ok = m.save_keys(dir, @type_atom, "a", old)
      assert :ok = m.save_credentials(dir, Backend.creds(1))
      assert :ok = Privileges.remount_read_only(mount)

      assert m.save_keys(dir, @type_atom, "a", Backend.key_value(backend, "a", 2)) ==
               {:error, :erofs}

      assert m.save_keys(dir, @type_atom, "b", Backend.key_value(backend, "b", 2)) ==
               {:error, :erofs}

      assert m.delete_keys(dir, @type_atom, "a") == {:error, :erofs}
      assert m.save_credentials(dir, Backend.creds(2)) == {:error, :erofs}
      # A directory that does not exist cannot be created either.
      assert m.save_keys(Path.join(mount, "new"), @type_atom, "a", old) == {:error, :erofs}

      assert m.load_keys(dir, @type_atom, "a") == {:ok, old}
      assert {:ok, creds} = m.load_credentials(dir)
      assert Backend.check_creds(creds) == {:ok, 1}
      assert {:ok, %{"device-list": ["a"]}} = m.list_persisted_keys(dir)

      IO.puts(
        "\nkernel errors: #{backend.name}: EROFS after remount,ro -> {:error, :erofs}, data kept"
      )
    end
  end

  if @user_problem, do: @tag(skip: @user_problem)
  @tag :root
  test "a directory the caller may not write answers :eacces and keeps the data" do
    for backend <- Backend.all() do
      root = Privileges.scratch_dir("eacces")
      on_exit(fn -> File.rm_rf(root) end)
      dir = Path.join(root, "auth")
      m = backend.module
      old = Backend.key_value(backend, "a", 1)
      assert :ok = m.save_keys(dir, @type_atom, "a", old)
      assert :ok = m.save_credentials(dir, Backend.creds(1))
      File.chmod!(dir, 0o755)
      before = DirSnapshot.take(dir)

      {status, lines} =
        SubVM.run(
          "BaileysEx.Auth.NIF.Test.Reliability.Privileges.main_unprivileged(System.argv())",
          [Atom.to_string(backend.name), dir],
          [as_user: @user, cd: root, env: [{"HOME", root}]],
          120_000
        )

      assert status == 0, Enum.join(lines, "\n")
      "RESULT " <> encoded = Enum.find(lines, &String.starts_with?(&1, "RESULT "))
      results = encoded |> Base.decode64!() |> :erlang.binary_to_term()

      assert results.save_existing == {:error, :eacces}
      assert results.save_new == {:error, :eacces}
      assert results.delete == {:error, :eacces}
      assert results.save_credentials == {:error, :eacces}
      assert results.commit == {:error, :eacces}
      assert results.load == {:ok, old}, "reading stays allowed"
      assert results.load_many == {:ok, %{"a" => old}}
      assert {:ok, creds} = results.load_credentials
      assert Backend.check_creds(creds) == {:ok, 1}
      assert {:ok, %{"device-list": ["a"]}} = results.list

      assert DirSnapshot.take(dir) == before, "nothing changed on disk"

      IO.puts(
        "\nkernel errors: #{backend.name}: writes as #{@user} -> {:error, :eacces}, data kept"
      )
    end
  end
end
