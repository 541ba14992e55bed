defmodule BaileysEx.Auth.NIF.Test.Reliability.RegisterModel do
  @moduledoc """
  Checks a concurrent history of saves, loads and deletes against the
  model of one register per key.

  Each operation is logged with the monotonic time just before the call and
  just after it returned. Every saved value is unique, so a loaded value
  names the save that wrote it. An operation X is *definitely after* W when
  X started after W ended. The checks are the necessary conditions of
  linearizability for a register, so a failure is a real violation, never an
  artefact of timing:

    * a load returns a value some save wrote, and that save started before
      the load ended and was not definitely overwritten (by a save or
      delete that ran entirely between the save and the load);
    * a load returns `:not_found` only when some delete (or the initial
      empty state) started before the load ended and no save ran entirely
      between it and the load;
    * the final state of each key (its file, and separately its manifest
      entry) is the effect of a *last* write: one that no other write on
      the key is definitely after.
  """

  @type op :: %{
          tag: term(),
          op: :save | :load | :delete,
          id: String.t(),
          value: term(),
          result: term(),
          start: integer(),
          stop: integer()
        }

  @doc "Problems found in `history`, a list of `op()` maps (`tag` unique per op)."
  @spec check_history([op()]) :: [String.t()]
  def check_history(history) do
    bad_results =
      for op <- history,
          not expected_result?(op),
          do: "#{op.op} #{op.id} returned #{inspect(op.result)}"

    violations =
      history
      |> Enum.group_by(& &1.id)
      |> Enum.flat_map(fn {id, ops} ->
        writes = Enum.filter(ops, &(&1.op in [:save, :delete]))
        saves = Enum.filter(writes, &(&1.op == :save))
        deletes = Enum.filter(writes, &(&1.op == :delete))

        index = %{
          saves_by_value: Map.new(saves, &{&1.value, &1}),
          writes: earliest_stop_after(writes),
          saves: earliest_stop_after(saves),
          deletes: deletes
        }

        for load <- ops, load.op == :load, problem = check_load(id, load, index), do: problem
      end)

    bad_results ++ violations
  end

  @doc """
  The effects a key may be left with: `{:value, v}` or `:absent` for each
  last write (no other write definitely after it); `[:absent]` when the key
  was never written.
  """
  @spec final_effects([op()], String.t()) :: [term()]
  def final_effects(history, id) do
    writes = Enum.filter(history, &(&1.id == id and &1.op in [:save, :delete]))

    case writes do
      [] ->
        [:absent]

      _ ->
        # W is last unless some write started after W ended.
        latest_start = writes |> Enum.map(& &1.start) |> Enum.max()

        writes
        |> Enum.filter(&(&1.stop >= latest_start))
        |> Enum.map(&effect/1)
        |> Enum.uniq()
    end
  end

  defp effect(%{op: :save, value: v}), do: {:value, v}
  defp effect(%{op: :delete}), do: :absent

  defp expected_result?(%{op: :save, result: :ok}), do: true
  defp expected_result?(%{op: :delete, result: :ok}), do: true
  defp expected_result?(%{op: :load, result: {:ok, _}}), do: true
  defp expected_result?(%{op: :load, result: {:error, :not_found}}), do: true
  defp expected_result?(_), do: false

  defp check_load(id, %{result: {:ok, value}} = load, index) do
    case index.saves_by_value do
      %{^value => save} ->
        cond do
          save.start >= load.stop ->
            "load #{id} saw #{inspect(value)} before its save began"

          # Some write ran entirely after the save ended and before the load
          # began (the save itself cannot: it starts before it ends).
          ran_between?(index.writes, save.stop, load.start) ->
            "load #{id} saw #{inspect(value)} after it was definitely overwritten"

          true ->
            nil
        end

      _ ->
        "load #{id} returned #{inspect(value)}, which no save wrote"
    end
  end

  defp check_load(id, %{result: {:error, :not_found}} = load, index) do
    # The initial empty state, or a delete that began before the load ended,
    # with no save running entirely between it and the load.
    possible =
      not ran_between?(index.saves, nil, load.start) or
        Enum.any?(index.deletes, fn delete ->
          delete.start < load.stop and not ran_between?(index.saves, delete.stop, load.start)
        end)

    if possible, do: nil, else: "load #{id} found nothing, but a save definitely preceded it"
  end

  defp check_load(_id, _load, _index), do: nil

  # Operations sorted by start, with the earliest stop among each suffix, so
  # "did some op start after `after` and stop before `before`" is a binary
  # search: the earliest stop among ops starting after `after`.
  defp earliest_stop_after(ops) do
    sorted = Enum.sort_by(ops, & &1.start)
    starts = sorted |> Enum.map(& &1.start) |> List.to_tuple()

    suffix_min =
      sorted
      |> Enum.reverse()
      |> Enum.scan(nil, fn op, acc -> if acc == nil, do: op.stop, else: min(acc, op.stop) end)
      |> Enum.reverse()
      |> List.to_tuple()

    {starts, suffix_min}
  end

  defp ran_between?({starts, suffix_min}, after_time, before_time) do
    first = first_start_after(starts, after_time, 0, tuple_size(starts))
    first < tuple_size(starts) and elem(suffix_min, first) < before_time
  end

  # Index of the first start strictly greater than `time` (nil: -infinity).
  defp first_start_after(_starts, nil, _lo, _hi), do: 0
  defp first_start_after(_starts, _time, lo, hi) when lo >= hi, do: lo

  defp first_start_after(starts, time, lo, hi) do
    mid = div(lo + hi, 2)

    if elem(starts, mid) > time,
      do: first_start_after(starts, time, lo, mid),
      else: first_start_after(starts, time, mid + 1, hi)
  end
end
