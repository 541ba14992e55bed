defmodule BaileysEx.Auth.NIF.Bench.Calls do
  @moduledoc """
  Calls into an implementation that raise when the call does not succeed, so
  a benchmark never times an error path by accident.
  """

  alias BaileysEx.Auth.NIF.Bench.Implementations

  @doc "`save_keys/4`; raises unless `:ok`."
  @spec save!(Implementations.impl(), Path.t(), atom(), term(), term()) :: :ok
  def save!(impl, dir, type, id, value),
    do: ok!(impl.module.save_keys(dir, type, id, value), impl, :save_keys, {type, id})

  @doc "`load_keys/3`; raises unless `{:ok, value}`."
  @spec load!(Implementations.impl(), Path.t(), atom(), term()) :: term()
  def load!(impl, dir, type, id),
    do: value!(impl.module.load_keys(dir, type, id), impl, :load_keys, {type, id})

  @doc "`delete_keys/3`; raises unless `:ok`."
  @spec delete!(Implementations.impl(), Path.t(), atom(), term()) :: :ok
  def delete!(impl, dir, type, id),
    do: ok!(impl.module.delete_keys(dir, type, id), impl, :delete_keys, {type, id})

  @doc "`list_persisted_keys/1`; raises unless `{:ok, listing}`."
  @spec list!(Implementations.impl(), Path.t()) :: %{atom() => [String.t()]}
  def list!(impl, dir),
    do: value!(impl.module.list_persisted_keys(dir), impl, :list_persisted_keys, dir)

  @doc "`save_credentials/2`; raises unless `:ok`."
  @spec save_credentials!(Implementations.impl(), Path.t(), struct()) :: :ok
  def save_credentials!(impl, dir, state),
    do: ok!(impl.module.save_credentials(dir, state), impl, :save_credentials, dir)

  @doc "`load_credentials/1`; raises unless `{:ok, state}`."
  @spec load_credentials!(Implementations.impl(), Path.t()) :: struct()
  def load_credentials!(impl, dir),
    do: value!(impl.module.load_credentials(dir), impl, :load_credentials, dir)

  @doc "Number of ids in a listing."
  @spec count(%{atom() => [String.t()]}) :: non_neg_integer()
  def count(listing), do: listing |> Map.values() |> Enum.map(&length/1) |> Enum.sum()

  defp ok!(:ok, _impl, _fun, _what), do: :ok
  defp ok!(other, impl, fun, what), do: fail!(other, impl, fun, what)

  defp value!({:ok, value}, _impl, _fun, _what), do: value
  defp value!(other, impl, fun, what), do: fail!(other, impl, fun, what)

  defp fail!(result, impl, fun, what) do
    raise "#{inspect(impl.module)}.#{fun} (#{inspect(what, limit: 5)}) returned " <>
            inspect(result, limit: 10)
  end
end
