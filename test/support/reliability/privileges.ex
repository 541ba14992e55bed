defmodule BaileysEx.Auth.NIF.Test.Reliability.Privileges do
  @moduledoc """
  What the kernel-error tests need from the machine: mounting a tmpfs (root
  with the right to mount, which unprivileged containers lack) and running
  a second VM as an unprivileged user. Each probe returns `nil` when the
  ability is there, else the reason it is not, to be printed as the skip
  reason.
  """

  import ExUnit.Assertions, only: [assert: 1]

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, SubVM}

  @doc "`nil` if a tmpfs can be mounted, remounted read-only and unmounted."
  @spec mount_problem() :: String.t() | nil
  def mount_problem do
    with nil <- root_problem(),
         nil <- executable_problem("mount"),
         nil <- executable_problem("umount") do
      dir = scratch_dir("mount-probe")

      try do
        with :ok <- mount_tmpfs(dir, "64k"),
             :ok <- remount_read_only(dir) do
          nil
        else
          {:error, output} -> "the kernel refused a tmpfs mount here: #{String.trim(output)}"
        end
      after
        unmount(dir)
        File.rm_rf(dir)
      end
    end
  end

  @doc "`nil` if a VM can run as `user` and load this application."
  @spec unprivileged_problem(String.t()) :: String.t() | nil
  def unprivileged_problem(user) do
    with nil <- root_problem(),
         nil <- executable_problem("setpriv") do
      beam = Path.join(SubVM.ebin(), "Elixir.BaileysEx.Auth.NIF.beam")

      case System.cmd("setpriv", setpriv_args(user) ++ ["test", "-r", beam],
             stderr_to_stdout: true
           ) do
        {_, 0} ->
          nil

        {output, status} ->
          "cannot run as #{user} or #{user} cannot read the build (#{status}): #{output}"
      end
    end
  end

  @doc "Mounts a tmpfs of `size` (e.g. `\"64k\"`) on `dir`."
  @spec mount_tmpfs(Path.t(), String.t()) :: :ok | {:error, String.t()}
  def mount_tmpfs(dir, size) do
    File.mkdir_p!(dir)
    cmd("mount", ["-t", "tmpfs", "-o", "size=#{size},mode=0755", "tmpfs", dir])
  end

  @doc """
  Mounts a tmpfs of `size` on a fresh scratch directory named for `label`,
  unmounted and removed when the calling test exits; returns its path.
  """
  @spec tmpfs!(String.t(), String.t()) :: Path.t()
  def tmpfs!(label, size) when is_binary(label) and is_binary(size) do
    dir = scratch_dir(label)

    ExUnit.Callbacks.on_exit(fn ->
      unmount(dir)
      File.rm_rf(dir)
    end)

    assert :ok = mount_tmpfs(dir, size)
    dir
  end

  @doc "Remounts the tmpfs on `dir` read-only."
  @spec remount_read_only(Path.t()) :: :ok | {:error, String.t()}
  def remount_read_only(dir), do: cmd("mount", ["-o", "remount,ro", dir])

  @doc "Unmounts `dir` (lazily, so a busy mount point never blocks cleanup)."
  @spec unmount(Path.t()) :: :ok | {:error, String.t()}
  def unmount(dir), do: cmd("umount", ["-l", dir])

  @doc "A fresh directory under the system temp dir, world-traversable."
  @spec scratch_dir(String.t()) :: Path.t()
  def scratch_dir(label) do
    dir = Path.join(System.tmp_dir!(), "bx-#{label}-#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    File.chmod!(dir, 0o755)
    dir
  end

  @doc """
  Entry point of the unprivileged VM: tries every write against a directory
  it may only read, and prints `RESULT <Base64 term>` with each answer.
  """
  @spec main_unprivileged([String.t()]) :: :ok
  def main_unprivileged([name, dir]) do
    {:ok, backend} = Backend.fetch(name)
    m = backend.module
    value = Backend.key_value(backend, "a", 99)

    results = %{
      save_existing: m.save_keys(dir, :"device-list", "a", value),
      save_new: m.save_keys(dir, :"device-list", "b", value),
      delete: m.delete_keys(dir, :"device-list", "a"),
      save_credentials: m.save_credentials(dir, Backend.creds(99)),
      commit: m.commit(dir, %{"device-list": %{"b" => value, "a" => nil}}),
      load: m.load_keys(dir, :"device-list", "a"),
      load_many: m.load_many(dir, :"device-list", ["a", "b"]),
      load_credentials: m.load_credentials(dir),
      list: m.list_persisted_keys(dir)
    }

    IO.puts("RESULT " <> Base.encode64(:erlang.term_to_binary(results)))
  end

  @doc "`setpriv` arguments that drop to `user` and its group."
  @spec setpriv_args(String.t()) :: [String.t()]
  def setpriv_args(user) do
    group =
      case System.cmd("id", ["-gn", user], stderr_to_stdout: true) do
        {group, 0} -> String.trim(group)
        _ -> user
      end

    ["--reuid=#{user}", "--regid=#{group}", "--clear-groups"]
  end

  defp root_problem do
    case System.cmd("id", ["-u"]) do
      {"0\n", 0} -> nil
      {uid, _} -> "needs root (running as uid #{String.trim(uid)})"
    end
  end

  defp executable_problem(name) do
    if System.find_executable(name), do: nil, else: "#{name} is not installed"
  end

  defp cmd(exe, args) do
    case System.cmd(exe, args, stderr_to_stdout: true) do
      {_, 0} -> :ok
      {output, _} -> {:error, output}
    end
  end
end
