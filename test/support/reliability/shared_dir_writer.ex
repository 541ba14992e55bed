defmodule BaileysEx.Auth.NIF.Test.Reliability.SharedDirWriter do
  @moduledoc """
  One of several OS processes writing the same directory: saves `count`
  keys of its own (`<prefix>-<n>`) and, every tenth key, the credentials.
  It waits for a start file so that all writers begin together, and prints
  `DONE <first_us> <last_us> <count>` with the OS time of its first and last
  save so the harness can check that the writers really overlapped.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @doc "Entry point: `[backend_name, dir, prefix, count, go_file]`."
  @spec main([String.t()]) :: :ok
  def main([name, dir, prefix, count, go_file]) do
    {:ok, backend} = Backend.fetch(name)
    count = String.to_integer(count)
    {:ok, _} = backend.module.list_persisted_keys(dir)
    IO.puts("READY")
    wait_for(go_file, 60_000)
    first = System.os_time(:microsecond)

    for n <- 1..count do
      id = "#{prefix}-#{n}"
      :ok = backend.module.save_keys(dir, :"device-list", id, %{"writer" => prefix, "n" => n})
      if rem(n, 10) == 0, do: :ok = backend.module.save_credentials(dir, Backend.creds(n))
    end

    IO.puts("DONE #{first} #{System.os_time(:microsecond)} #{count}")
  end

  defp wait_for(_file, left) when left <= 0, do: raise("no start signal")

  defp wait_for(file, left) do
    unless File.exists?(file) do
      Process.sleep(1)
      wait_for(file, left - 1)
    end
  end
end
