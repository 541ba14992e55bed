defmodule BaileysEx.Auth.NIF.Test.KeyStoreProbes do
  @moduledoc """
  What key store tests observe without timing: whether a process is
  blocked in a `GenServer.call` (waiting for a lock or a store), and which
  writes the persistence calls recorded by
  `BaileysEx.Auth.NIF.Test.FaultyPersistence` carried.
  """

  @doc """
  Returns once `pid` waits inside a `GenServer.call`, polling its state. The
  bound (60 s) is only there so that a broken store cannot hang the suite.
  """
  @spec await_blocked(pid()) :: :ok
  def await_blocked(pid) when is_pid(pid) do
    deadline = System.monotonic_time(:millisecond) + 60_000
    await_blocked(pid, deadline)
  end

  defp await_blocked(pid, deadline) do
    cond do
      blocked_in_call?(pid) ->
        :ok

      System.monotonic_time(:millisecond) > deadline ->
        raise "#{inspect(pid)} never blocked in a call: #{inspect(Process.info(pid))}"

      true ->
        Process.sleep(2)
        await_blocked(pid, deadline)
    end
  end

  @doc "True while `pid` waits for the reply to a `GenServer.call`."
  @spec blocked_in_call?(pid()) :: boolean()
  def blocked_in_call?(pid) do
    case Process.info(pid, [:status, :current_function]) do
      [status: :waiting, current_function: {:gen, :do_call, 4}] -> true
      _ -> false
    end
  end

  @doc """
  The writes in recorded calls, in order: `{:save | :delete, type, id}`,
  a commit's entries included.
  """
  @spec writes([tuple()]) :: [{:save | :delete, term(), term()}]
  def writes(calls) do
    Enum.flat_map(calls, fn
      {:save, type, id} -> [{:save, type, id}]
      {:delete, type, id} -> [{:delete, type, id}]
      {:commit, changes} -> for {t, es} <- changes, {id, v} <- es, do: {kind(v), t, id}
      _ -> []
    end)
  end

  defp kind(nil), do: :delete
  defp kind(_value), do: :save
end
