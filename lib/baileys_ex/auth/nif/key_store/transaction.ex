defmodule BaileysEx.Auth.NIF.KeyStore.Transaction do
  @moduledoc """
  Transactions of the key store, run in the caller's process: serialised
  per key string by a lock that is freed when its owner dies, buffered in
  the caller (`BaileysEx.Auth.NIF.KeyStore.TransactionBuffer`) and
  committed as one write when the callback returns.
  """

  alias BaileysEx.Auth.NIF.KeyStore.Commits
  alias BaileysEx.Auth.NIF.KeyStore.Locks
  alias BaileysEx.Auth.NIF.KeyStore.OperationError
  alias BaileysEx.Auth.NIF.KeyStore.Reads
  alias BaileysEx.Auth.NIF.KeyStore.Ref
  alias BaileysEx.Auth.NIF.KeyStore.TransactionBuffer, as: Buffer
  alias BaileysEx.Auth.NIF.KeyStore.TxRef

  @doc """
  Runs `fun` with a transaction handle while holding the lock of `key`,
  then commits its writes. If `fun` raises, throws or exits, nothing is
  committed and the exception goes on; a failed commit raises
  `OperationError` with action `:transaction`.
  """
  @spec run(Ref.t(), String.t(), (TxRef.t() -> result)) :: result when result: var
  def run(%Ref{locks: locks} = ref, key, fun) when is_binary(key) and is_function(fun, 1) do
    name = Locks.transaction_name(key)
    :ok = Locks.acquire(locks, [name])
    buffer = Buffer.new()

    try do
      result = fun.(%TxRef{ref: ref, buffer: buffer})

      case Commits.run(ref, Buffer.writes(buffer), Buffer.cleared?(buffer)) do
        :ok -> result
        {:error, reason} -> raise OperationError, action: :transaction, reason: reason
      end
    after
      Buffer.delete(buffer)
      Locks.release(locks, [name])
    end
  end

  @doc """
  What the transaction sees for `ids`: its own writes, else the store as
  first read by this transaction (nothing after it cleared the store).
  """
  @spec get(TxRef.t(), term(), list()) :: map()
  def get(%TxRef{ref: ref, buffer: buffer}, type, ids) when is_list(ids) do
    case Buffer.read(buffer, type, ids) do
      {found, []} ->
        found

      {_found, missing} ->
        fetched = if Buffer.cleared?(buffer), do: %{}, else: Reads.fetch(ref, type, missing)
        :ok = Buffer.remember(buffer, type, missing, fetched)
        buffer |> Buffer.read(type, ids) |> elem(0)
    end
  end

  @doc """
  Buffers `data`. A `nil` for a pre-key the transaction does not see is
  dropped, as in the original store.
  """
  @spec set(TxRef.t(), map()) :: :ok
  def set(%TxRef{buffer: buffer} = tx, data) when is_map(data) do
    Enum.each(data, fn
      {:"pre-key", entries} ->
        Enum.each(entries, fn
          {id, nil} -> if Map.has_key?(get(tx, :"pre-key", [id]), id), do: delete(buffer, id)
          {id, value} -> Buffer.write(buffer, :"pre-key", id, value)
        end)

      {type, entries} ->
        Enum.each(entries, fn {id, value} -> Buffer.write(buffer, type, id, value) end)
    end)
  end

  defp delete(buffer, id), do: Buffer.write(buffer, :"pre-key", id, nil)

  @doc "Clears the store for this transaction; the commit removes every key."
  @spec clear(TxRef.t()) :: :ok
  def clear(%TxRef{buffer: buffer}), do: Buffer.clear(buffer)
end
