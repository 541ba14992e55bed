defmodule BaileysEx.Auth.NIF.KeyStore.TransactionBuffer do
  @moduledoc """
  A transaction's private view of the store: what it has read, what it has
  written (visible to it, to nobody else until the commit), and whether it
  cleared the store. A private ETS table of the process running the
  transaction, deleted when the transaction ends.
  """

  @typedoc "A transaction buffer."
  @type t :: :ets.tid()

  @doc "A new, empty buffer owned by the calling process."
  @spec new() :: t()
  def new, do: :ets.new(__MODULE__, [:set, :private])

  @doc "Deletes the buffer."
  @spec delete(t()) :: :ok
  def delete(buffer) do
    true = :ets.delete(buffer)
    :ok
  end

  @doc """
  What the transaction sees for `ids` of `type`: the values it knows to
  exist, and the ids it knows nothing about yet, in order.
  """
  @spec read(t(), term(), list()) :: {map(), list()}
  def read(buffer, type, ids) when is_list(ids) do
    {found, missing} =
      Enum.reduce(ids, {%{}, []}, fn id, {found, missing} ->
        case :ets.lookup(buffer, {:view, type, id}) do
          [{_, true, value}] -> {Map.put(found, id, value), missing}
          [{_, false, _}] -> {found, missing}
          [] -> {found, [id | missing]}
        end
      end)

    {found, Enum.reverse(missing)}
  end

  @doc "Records what the store holds for `ids`: the values in `fetched`, the rest absent."
  @spec remember(t(), term(), list(), map()) :: :ok
  def remember(buffer, type, ids, fetched) when is_list(ids) and is_map(fetched) do
    objects =
      Enum.map(ids, fn id ->
        case Map.fetch(fetched, id) do
          {:ok, value} -> {{:view, type, id}, true, value}
          :error -> {{:view, type, id}, false, nil}
        end
      end)

    true = :ets.insert(buffer, objects)
    :ok
  end

  @doc "Writes `value` (`nil` deletes) for the commit, visible to the transaction at once."
  @spec write(t(), term(), term(), term()) :: :ok
  def write(buffer, type, id, value) do
    true =
      :ets.insert(buffer, [{{:view, type, id}, value != nil, value}, {{:write, type, id}, value}])

    :ok
  end

  @doc "The writes to commit, by type."
  @spec writes(t()) :: %{optional(term()) => map()}
  def writes(buffer) do
    buffer
    |> :ets.match({{:write, :"$1", :"$2"}, :"$3"})
    |> Enum.reduce(%{}, fn [type, id, value], acc ->
      Map.update(acc, type, %{id => value}, &Map.put(&1, id, value))
    end)
  end

  @doc "Forgets every read and write: the transaction now sees an empty store."
  @spec clear(t()) :: :ok
  def clear(buffer) do
    true = :ets.delete_all_objects(buffer)
    true = :ets.insert(buffer, {:cleared})
    :ok
  end

  @doc "True once the transaction has cleared the store."
  @spec cleared?(t()) :: boolean()
  def cleared?(buffer), do: :ets.member(buffer, :cleared)
end
