defmodule BaileysEx.Auth.NIF.Bench.Implementations do
  @moduledoc """
  Finds the implementations to compare for each backend.

  For each backend the NIF module is compared with a baseline: the real
  BaileysEx module when it is loaded, else its pure-Elixir twin from
  `test/support/baseline`. Modules that cannot be loaded are left out, with
  the reason, so the benchmark still runs what exists. The modules come from
  the backend descriptor `BaileysEx.Auth.NIF.Test.Backends`.
  """

  alias BaileysEx.Auth.NIF.Test.Backends

  @typedoc "A backend: ETF files or Baileys-style JSON files."
  @type backend :: :etf | :json

  @typedoc "One implementation of a backend."
  @type impl :: %{id: :nif | :baseline, module: module(), label: String.t(), source: String.t()}

  @typedoc "What the benchmark runs for one backend."
  @type plan :: %{
          backend: backend(),
          title: String.t(),
          impls: [impl()],
          skipped: [String.t()]
        }

  @api [
    save_keys: 4,
    load_keys: 3,
    delete_keys: 3,
    save_credentials: 2,
    load_credentials: 1,
    list_persisted_keys: 1
  ]

  @doc "The backends, in the order they are run."
  @spec backends() :: [backend()]
  def backends, do: Enum.map(Backends.all(), & &1.name)

  @doc "Finds the NIF and the baseline of `backend`."
  @spec plan(backend()) :: plan()
  def plan(backend) do
    backend_info = Backends.fetch!(backend)

    {nif, nif_skip} =
      case check(backend_info.module) do
        :ok -> {impl(:nif, backend_info.module, "Rust NIF of this project"), []}
        {:error, why} -> {nil, ["NIF #{inspect(backend_info.module)} skipped: #{why}"]}
      end

    {baseline, baseline_skip} = baseline(backend_info)

    %{
      backend: backend,
      title: backend_info.title,
      impls: Enum.reject([nif, baseline], &is_nil/1),
      skipped: nif_skip ++ baseline_skip
    }
  end

  defp baseline(candidates) do
    case {check(candidates.real), check(candidates.twin)} do
      {:ok, _} ->
        {impl(:baseline, candidates.real, "real BaileysEx module"), []}

      {_, :ok} ->
        {impl(:baseline, candidates.twin, "pure-Elixir twin (BaileysEx not loaded)"), []}

      {_, {:error, why}} ->
        {nil,
         [
           "baseline skipped: neither #{inspect(candidates.real)} nor " <>
             "#{inspect(candidates.twin)} is usable (#{why})"
         ]}
    end
  end

  defp impl(id, module, source) do
    %{id: id, module: module, label: label(id), source: source}
  end

  @doc "Short label of an implementation role, as used in the report."
  @spec label(:nif | :baseline) :: String.t()
  def label(:nif), do: "NIF"
  def label(:baseline), do: "baseline"

  # A module counts when it loads and exports the context-aware API.
  defp check(module) do
    cond do
      not Code.ensure_loaded?(module) ->
        {:error, "module #{inspect(module)} is not available"}

      missing = Enum.find(@api, fn {fun, arity} -> not function_exported?(module, fun, arity) end) ->
        {fun, arity} = missing
        {:error, "#{inspect(module)} does not export #{fun}/#{arity}"}

      true ->
        :ok
    end
  end
end
