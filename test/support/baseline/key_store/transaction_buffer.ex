defmodule BaileysEx.Auth.NIF.Baseline.KeyStore.TransactionBuffer do
  @moduledoc """
  Twin of BaileysEx's `Signal.Store.TransactionBuffer`: a transaction's
  private ETS table holding what it has read (`{:seen, type, id}`), what it
  has written (`{:written, type, id}`) and whether it cleared the store. A
  value read or written as absent is stored as the atom
  `:"$signal_store_missing"`, so a value equal to that atom reads as absent,
  as in the original. Never shipped.
  """

  @absent :"$signal_store_missing"
  @cleared :"$signal_store_clear"

  @doc "A new buffer owned by the calling process."
  @spec new() :: :ets.tid()
  def new, do: :ets.new(__MODULE__, [:set, :private])

  @doc "Deletes the buffer."
  @spec delete(:ets.tid()) :: true
  def delete(buffer), do: :ets.delete(buffer)

  @doc "Forgets every read and write and marks the buffer cleared."
  @spec clear(:ets.tid()) :: :ok
  def clear(buffer) do
    true = :ets.delete_all_objects(buffer)
    true = :ets.insert(buffer, {@cleared, true})
    :ok
  end

  @doc "True once cleared."
  @spec cleared?(:ets.tid()) :: boolean()
  def cleared?(buffer), do: :ets.lookup(buffer, @cleared) == [{@cleared, true}]

  @doc "The values seen for `ids` and the ids not seen yet, in order."
  @spec cached_entries(:ets.tid(), term(), list()) :: {map(), list()}
  def cached_entries(buffer, type, ids) do
    {found, unseen} =
      Enum.reduce(ids, {%{}, []}, fn id, {found, unseen} ->
        case :ets.lookup(buffer, {:seen, type, id}) do
          [{_, @absent}] -> {found, unseen}
          [{_, value}] -> {Map.put(found, id, value), unseen}
          [] -> {found, [id | unseen]}
        end
      end)

    {found, Enum.reverse(unseen)}
  end

  @doc "Records each of `ids` as seen: its value in `fetched`, else absent."
  @spec cache_fetched(:ets.tid(), term(), list(), map()) :: :ok
  def cache_fetched(buffer, type, ids, fetched) do
    for id <- ids, do: :ets.insert(buffer, {{:seen, type, id}, Map.get(fetched, id, @absent)})
    :ok
  end

  @doc "Writes every `{id, value}` of every type in `data`."
  @spec put_entries(:ets.tid(), map()) :: :ok
  def put_entries(buffer, data) do
    Enum.each(data, fn {type, entries} ->
      Enum.each(entries, fn {id, value} -> put_entry(buffer, type, id, value) end)
    end)
  end

  @doc "Writes one entry: seen as written (`nil` as absent) and kept for the commit."
  @spec put_entry(:ets.tid(), term(), term(), term()) :: :ok
  def put_entry(buffer, type, id, value) do
    :ets.insert(buffer, {{:seen, type, id}, if(is_nil(value), do: @absent, else: value)})
    :ets.insert(buffer, {{:written, type, id}, value})
    :ok
  end

  @doc "The writes, by type."
  @spec mutation_data(:ets.tid()) :: map()
  def mutation_data(buffer) do
    for {{:written, type, id}, value} <- :ets.tab2list(buffer), reduce: %{} do
      acc -> Map.update(acc, type, %{id => value}, &Map.put(&1, id, value))
    end
  end
end
