defmodule BaileysEx.Auth.NIF.Bench.Row do
  @moduledoc """
  One line of results: the figures of every implementation for one measured
  thing, its ratio baseline/NIF and, where one is set, the target ratio.

  Kinds:

    * `:per_op` - microseconds per call (median, p90, ...); the ratio
      compares medians;
    * `:total` - a fixed sequence of calls; the ratio compares the summed
      time of the calls;
    * `:concurrent` - processes running at once; the ratio compares wall
      time.
  """

  alias BaileysEx.Auth.NIF.Bench.Timing

  @typedoc "A result line."
  @type t :: %{
          required(:kind) => :per_op | :total | :concurrent,
          required(:section) => atom(),
          required(:name) => String.t(),
          required(:figures) => %{atom() => map()},
          optional(:samples) => %{atom() => [float()]},
          optional(:target) => number() | nil,
          optional(:size) => non_neg_integer() | nil,
          optional(:op) => atom() | nil,
          optional(:ops) => non_neg_integer() | nil,
          optional(:note) => String.t() | nil
        }

  @doc """
  A `:per_op` row from raw samples per implementation. Options: `:target`,
  `:size`, `:op`, `:note`.
  """
  @spec per_op(atom(), String.t(), %{atom() => [float()]}, keyword()) :: t()
  def per_op(section, name, samples, opts \\ []) do
    %{
      kind: :per_op,
      section: section,
      name: name,
      figures: Map.new(samples, fn {id, list} -> {id, Timing.stats(list)} end),
      samples: samples,
      target: Keyword.get(opts, :target),
      size: Keyword.get(opts, :size),
      op: Keyword.get(opts, :op),
      note: Keyword.get(opts, :note)
    }
  end

  @doc "A `:total` row: a fixed sequence of `ops` calls per implementation."
  @spec total(atom(), String.t(), %{atom() => [float()]}, keyword()) :: t()
  def total(section, name, samples, opts \\ []) do
    row = per_op(section, name, samples, opts)
    ops = samples |> Map.values() |> Enum.map(&length/1) |> Enum.max(fn -> 0 end)
    %{row | kind: :total} |> Map.put(:ops, ops) |> Map.delete(:samples)
  end

  @doc """
  A `:concurrent` row; `figures` maps each implementation to
  `%{wall_ms:, ops_per_s:, median_us:, p99_us:, ...}`.
  """
  @spec concurrent(atom(), String.t(), non_neg_integer(), %{atom() => map()}, keyword()) :: t()
  def concurrent(section, name, ops, figures, opts \\ []) do
    %{
      kind: :concurrent,
      section: section,
      name: name,
      ops: ops,
      figures: figures,
      target: nil,
      note: Keyword.get(opts, :note)
    }
  end

  @doc "baseline/NIF ratio of the row's headline figure; `nil` if either is missing."
  @spec ratio(t()) :: float() | nil
  def ratio(%{figures: figures} = row) do
    with %{} = baseline <- Map.get(figures, :baseline),
         %{} = nif <- Map.get(figures, :nif),
         b when is_number(b) <- headline(row, baseline),
         n when is_number(n) and n > 0 <- headline(row, nif) do
      b / n
    else
      _ -> nil
    end
  end

  @doc "The figure a row is judged by: median µs, total ms or wall ms."
  @spec headline(t(), map()) :: number() | nil
  def headline(%{kind: :per_op}, figures), do: figures[:median_us]
  def headline(%{kind: :total}, figures), do: figures[:total_ms]
  def headline(%{kind: :concurrent}, figures), do: figures[:wall_ms]

  @doc "`:met`, `:missed`, or `:none` (no target, or a figure is missing)."
  @spec status(t()) :: :met | :missed | :none
  def status(row) do
    case {Map.get(row, :target), ratio(row)} do
      {nil, _} -> :none
      {_, nil} -> :none
      {target, ratio} when ratio >= target -> :met
      _ -> :missed
    end
  end
end
