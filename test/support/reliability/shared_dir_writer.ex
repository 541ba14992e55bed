defmodule BaileysEx.Auth.NIF.Test.Reliability.SharedDirWriter do
  @moduledoc """
  One of several OS processes writing the same directory: saves `count`
  keys of its own (`<prefix>-<n>`) and, every tenth key, the credentials.
  It waits for a start file so that all writers begin together, and halfway
  through for every other writer to be halfway too, so the writers overlap
  however the OS schedules them. It prints `DONE <first_us> <last_us> <count>`
  with the OS time of its first and last save.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.Backend

  @doc "Entry point: `[backend_name, dir, prefix, count, go_file, writers]`."
  @spec main([String.t()]) :: :ok
  def main([name, dir, prefix, count, go_file, writers]) do
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
      if n == div(count, 2), do: halfway(go_file, prefix, String.to_integer(writers))
    end

    IO.puts("DONE #{first} #{System.os_time(:microsecond)} #{count}")
  end

  defp halfway(go_file, prefix, writers) do
    File.write!("#{go_file}.half-#{prefix}", "")
    wait_until(fn -> length(Path.wildcard("#{go_file}.half-*")) >= writers end, 300_000)
  end

  defp wait_for(file, left), do: wait_until(fn -> File.exists?(file) end, left)

  defp wait_until(_done?, left) when left <= 0, do: raise("the other writers never signalled")

  defp wait_until(done?, left) do
    unless done?.() do
      Process.sleep(1)
      wait_until(done?, left - 1)
    end
  end
end
