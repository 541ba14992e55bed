defmodule BaileysEx.Auth.NIF.Test.Reliability.DirectoryMemoryProbe do
  @moduledoc """
  Run in a VM of its own: uses `count` directories once each, every one
  holding a manifest of `keys` ids and nothing else, and prints the OS
  process's resident memory before and after as `RSS_KB <before> <after>`.
  The NIF keeps per-directory state outside the VM's allocators, so only
  the OS figure shows it.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @doc "Entry point: `[backend_name, root, count, keys]`."
  @spec main([String.t()]) :: :ok
  def main([name, root, count, keys]) do
    {:ok, backend} = Backend.fetch(name)
    count = String.to_integer(count)
    manifest = manifest(backend, String.to_integer(keys))
    # Loads the code paths and the NIF before the first figure.
    {:error, :not_found} = backend.module.load_keys(Path.join(root, "warm"), :session, "x")
    :erlang.garbage_collect()
    before = rss_kb()

    for n <- 1..count do
      dir = Path.join(root, "d#{n}")
      File.mkdir_p!(dir)
      File.write!(Path.join(dir, backend.manifest_file), manifest)
      {:error, :not_found} = backend.module.load_keys(dir, :session, "x")
      File.rm!(Path.join(dir, backend.manifest_file))
    end

    :erlang.garbage_collect()
    IO.puts("RSS_KB #{before} #{rss_kb()}")
  end

  defp manifest(backend, keys) do
    ids = for n <- 1..keys, do: "1555#{100_000_000 + n}.0"

    case backend.name do
      :etf ->
        :erlang.term_to_binary(%{
          "backend" => backend.backend_id,
          "version" => 1,
          "key_index" => %{"session" => ids}
        })

      :json ->
        quoted = Enum.map_join(ids, ",", &~s("#{&1}"))

        ~s({"backend":"#{backend.backend_id}","key_index":{"session":[#{quoted}]},"version":1})
    end
  end

  defp rss_kb do
    "/proc/self/status"
    |> File.read!()
    |> String.split("\n")
    |> Enum.find_value(fn line ->
      case String.split(line) do
        ["VmRSS:", kb, "kB"] -> String.to_integer(kb)
        _ -> nil
      end
    end)
  end
end
