defmodule BaileysEx.Auth.NIF.Bench.Machine do
  @moduledoc """
  What the results were measured on: OTP and Elixir versions, cores, CPU,
  operating system, date, and a probe of the disk (median time of writing
  and fsyncing 4 KiB in the scratch directory), since most calls here are
  bound by fsync.
  """

  alias BaileysEx.Auth.NIF.Bench.Timing

  @doc "Machine information; `scratch_dir` is where the fsync probe writes."
  @spec info(Path.t()) :: map()
  def info(scratch_dir) do
    otp_release = to_string(:erlang.system_info(:otp_release))
    {os_family, os_name} = :os.type()

    %{
      otp_release: otp_release,
      otp_version: otp_version(otp_release),
      erts_version: to_string(:erlang.system_info(:version)),
      elixir_version: System.version(),
      schedulers_online: System.schedulers_online(),
      logical_processors: logical_processors(),
      cpu_model: cpu_model(),
      os: "#{os_family}/#{os_name} #{os_version()}",
      date_utc: DateTime.utc_now() |> DateTime.truncate(:second) |> DateTime.to_iso8601(),
      fsync_probe_us: fsync_probe_us(scratch_dir)
    }
  end

  defp otp_version(release) do
    path = Path.join([to_string(:code.root_dir()), "releases", release, "OTP_VERSION"])

    case File.read(path) do
      {:ok, text} -> String.trim(text)
      {:error, _} -> release
    end
  end

  defp logical_processors do
    case :erlang.system_info(:logical_processors) do
      n when is_integer(n) -> n
      _ -> System.schedulers()
    end
  end

  defp cpu_model do
    with {:ok, text} <- File.read("/proc/cpuinfo"),
         [_, model] <- Regex.run(~r/^model name\s*:\s*(.+)$/m, text) do
      String.trim(model)
    else
      _ -> nil
    end
  end

  defp os_version do
    case :os.version() do
      {major, minor, patch} -> "#{major}.#{minor}.#{patch}"
      other -> to_string(other)
    end
  end

  @doc "Median µs of writing 4 KiB to a new file and fsyncing it, over 20 tries."
  @spec fsync_probe_us(Path.t()) :: float()
  def fsync_probe_us(dir) do
    File.mkdir_p!(dir)
    path = Path.join(dir, "fsync-probe")
    data = :binary.copy(<<0xA5>>, 4096)

    samples =
      for _ <- 1..20 do
        {us, :ok} =
          Timing.time_us(fn ->
            {:ok, fd} = :file.open(path, [:write, :raw, :binary])
            :ok = :file.write(fd, data)
            :ok = :file.sync(fd)
            :file.close(fd)
          end)

        us
      end

    File.rm!(path)
    samples |> Enum.sort() |> Timing.median()
  end
end
