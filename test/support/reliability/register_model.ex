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

  A commit is logged as one save or delete per key, each carrying the
  commit's tag in `commit` and the commit's times, so the checks above hold
  per key for it too. `check_commit_order/2` adds what makes its writes one
  step: the final state must be reachable by applying every commit whole,
  one at a time.
  """

  @type op :: %{
          optional(:commit) => term(),
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

  @doc """
  Problems with the order of the writes, given each key's final state
  (`%{id => {:value, v} | :absent}`). A key that ends with value `v` orders
  every other write of it (a commit counts as one writer) before the save
  of `v`; these orders must have no cycle. A cycle means two commits each
  won on a key of the other: they were not applied one after the other.
  """
  @spec check_commit_order([op()], %{String.t() => {:value, term()} | :absent}) :: [String.t()]
  def check_commit_order(history, finals) do
    writer = fn op -> Map.get(op, :commit) || op.tag end
    writes = history |> Enum.filter(&(&1.op in [:save, :delete])) |> Enum.group_by(& &1.id)

    edges =
      for {id, {:value, value}} <- finals,
          ops = Map.get(writes, id, []),
          last = Enum.find(ops, &(&1.op == :save and &1.value == value)),
          last != nil,
          op <- ops,
          writer.(op) != writer.(last),
          uniq: true,
          do: {writer.(op), writer.(last)}

    case in_cycles(edges) do
      [] ->
        []

      writers ->
        ["writes not in any one order (each won on a key of another): #{inspect(writers)}"]
    end
  end

  # The nodes left once every node without a predecessor is removed, again
  # and again (Kahn's algorithm): exactly those on or behind a cycle.
  defp in_cycles(edges) do
    successors = Enum.group_by(edges, &elem(&1, 0), &elem(&1, 1))

    in_degree =
      Enum.reduce(edges, %{}, fn {a, b}, acc ->
        acc |> Map.put_new(a, 0) |> Map.update(b, 1, &(&1 + 1))
      end)

    free = for {node, 0} <- in_degree, do: node

    for {node, degree} <- remove_free(free, in_degree, successors), degree > 0, do: node
  end

  defp remove_free([], in_degree, _successors), do: in_degree

  defp remove_free([node | free], in_degree, successors) do
    {in_degree, free} =
      Enum.reduce(Map.get(successors, node, []), {in_degree, free}, fn next, {degrees, free} ->
        degree = Map.fetch!(degrees, next) - 1
        {Map.put(degrees, next, degree), if(degree == 0, do: [next | free], else: free)}
      end)

    remove_free(free, in_degree, successors)
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
