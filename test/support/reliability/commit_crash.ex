defmodule BaileysEx.Auth.NIF.Test.Reliability.CommitCrash do
  @moduledoc """
  The commit mode of `CrashHarness`: kills `CrashWriter.main_commits/1` VMs
  at random moments and checks that every commit is whole and that no
  acknowledged commit is lost.

  A writer commits one set after the other, each drawn from its sequence
  number (`CrashWriter.commit_items/1`), so the harness knows every commit
  it makes, printed or not. Each writer VM first opens its directories,
  which completes or rolls back a commit the previous kill cut short, and
  prints what it then finds (`CrashWriter.report_state/1`). Across all
  directories of the lane that must be exactly the state after every commit
  the previous writer acknowledged (printed `A`) and then the next `p`
  commits whole, for some `p` >= 0: a kill can lose the last lines the
  writer printed, never part of a commit, never an acknowledged one. Right
  after each kill, before anything reopens the directory, every data file
  must decode (renames replace whole files). A fresh VM makes the last
  check, and must leave no temp file and no record.
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, CrashWriter, SubVM}

  @writer "BaileysEx.Auth.NIF.Test.Reliability.CrashWriter.main_commits(System.argv())"
  @reader "BaileysEx.Auth.NIF.Test.Reliability.CrashWriter.main_state(System.argv())"

  # More unprinted commits than a kill can plausibly lose output for.
  @max_unprinted 1_000

  @typedoc """
  What the next VM may find: `states` (by backend name) after every
  acknowledged commit, and `next`, the first commit not acknowledged
  (`nil` before any writer ran).
  """
  @type expected :: %{states: %{String.t() => map()}, next: non_neg_integer() | nil}

  @doc """
  Runs `rounds` kills on `dirs` (`[{backend, dir}]`, one lane). Returns the
  lane's report: the `CrashHarness` fields plus `rolled_forward` (commits
  after the last acknowledged one found applied) and `rolled_back` (kills
  with a commit in flight whose commit was found not applied), and
  `expected` for `check_in_fresh_vm/1`.
  """
  @spec run_lane([{Backend.t(), Path.t()}], pos_integer(), :rand.state(), pos_integer()) :: map()
  def run_lane(dirs, rounds, rng, max_delay) do
    # Loading the NIF creates the atoms of auth data, which the safe
    # decoding of the files right after a kill needs.
    Code.ensure_loaded!(BaileysEx.Auth.NIF)

    initial = %{
      dirs: dirs,
      expected: %{states: Map.new(dirs, &{name(&1), empty_state()}), next: nil},
      started: false,
      acked_count: 0,
      kills: 0,
      in_flight: 0,
      keys_checked: 0,
      orphans_seen: 0,
      rolled_forward: 0,
      rolled_back: 0,
      problems: [],
      rng: rng
    }

    Enum.reduce_while(0..(rounds - 1), initial, fn round, state ->
      state = run_round(state, round, max_delay)
      if state.problems == [], do: {:cont, state}, else: {:halt, state}
    end)
  end

  defp run_round(state, round, max_delay) do
    base = (round + 1) * 4_294_967_296

    vm =
      SubVM.start(@writer, [Integer.to_string(base) | targets(state.dirs)],
        label: {:commits, round}
      )

    case SubVM.await_line(vm, &(&1 == "READY"), 120_000) do
      {:ok, _, seen} ->
        case judge(state, "round #{round}", seen) do
          %{problems: []} = state ->
            {delay, rng} = delay(state.rng, max_delay)
            Process.sleep(delay)
            {:killed, status, lines} = SubVM.kill(vm)
            absorb(%{state | rng: rng}, round, base, status, lines)

          state ->
            SubVM.kill(vm)
            state
        end

      {:exit, status, lines} ->
        problem(state, "round #{round}: writer exited #{status} before ready: #{tail(lines)}")

      {:timeout, lines} ->
        SubVM.kill(vm)
        problem(state, "round #{round}: writer never ready: #{tail(lines)}")
    end
  end

  # A quarter of the kills come within 5 ms, the rest anywhere up to max.
  defp delay(rng, max_delay) do
    {pick, rng} = :rand.uniform_s(4, rng)
    :rand.uniform_s(if(pick == 1, do: 5, else: max_delay), rng)
  end

  # What a VM found on opening, against the states the expected one reaches
  # commit by commit.
  defp judge(state, where, lines) do
    found = parse_states(lines)
    %{states: states, next: next} = state.expected
    checked = found |> Map.values() |> Enum.map(&map_size/1) |> Enum.sum()
    state = %{state | keys_checked: state.keys_checked + checked}

    case applied_prefix(state.dirs, states, next, found) do
      {:ok, applied} ->
        %{
          state
          | expected: %{states: found, next: nil},
            rolled_forward: state.rolled_forward + min(applied, 1),
            rolled_back: state.rolled_back + if(state.started and applied == 0, do: 1, else: 0),
            started: false
        }

      :error ->
        problems =
          for {name, expected} <- states, found[name] != expected do
            "#{where}: #{name} is not the acknowledged state, nor it with the commits after " <>
              "it whole; against the acknowledged state it differs at #{difference(found[name], expected)}"
          end

        Enum.reduce(problems, state, &problem(&2, &1))
    end
  end

  # How many commits from `next` on, applied whole, turn `states` into
  # `found`; `:error` if no number of them does.
  defp applied_prefix(dirs, states, next, found) do
    names = List.to_tuple(Enum.map(dirs, &name/1))

    Enum.reduce_while(0..@max_unprinted, states, fn applied, states ->
      cond do
        states == found ->
          {:halt, {:ok, applied}}

        next == nil or applied == @max_unprinted ->
          {:halt, :error}

        true ->
          seq = next + applied
          name = elem(names, rem(seq, tuple_size(names)))
          {:cont, Map.update!(states, name, &after_commit(&1, seq))}
      end
    end)
  end

  defp difference(nil, _expected), do: "every key (nothing reported)"

  defp difference(seen, expected) do
    for(
      {key, value} <- expected,
      seen[key] != value,
      do: "#{key} #{inspect(seen[key])} (expected #{inspect(value)})"
    )
    |> Enum.join(", ")
  end

  # The harness knows each commit from its sequence number: the lines a
  # kill swallows only leave more commits to look for on reopening.
  defp absorb(state, round, base, status, lines) do
    {acked, started, errors} =
      Enum.reduce(lines, {[], nil, []}, fn line, {acked, started, errors} ->
        case String.split(line, " ") do
          ["B", _name, seq | items] ->
            seq = String.to_integer(seq)

            errors =
              if items == CrashWriter.commit_items(seq),
                do: errors,
                else: ["B line #{seq} is not commit #{seq}: #{line}" | errors]

            {acked, seq, errors}

          ["A", _name, seq] ->
            {[String.to_integer(seq) | acked], started, errors}

          ["E" | _] ->
            {acked, started, [line | errors]}

          _ ->
            {acked, started, errors}
        end
      end)

    acked = Enum.reverse(acked)
    next = base + length(acked)

    errors =
      if acked == Enum.to_list(base..(next - 1)//1),
        do: errors,
        else: ["acknowledged out of order: #{inspect(acked)}" | errors]

    states =
      Enum.reduce(acked, state.expected.states, fn seq, states ->
        Map.update!(states, name_at(state.dirs, seq), &after_commit(&1, seq))
      end)

    temps = Enum.flat_map(state.dirs, fn {_b, dir} -> Backend.temp_files(dir) end)

    state = %{
      state
      | expected: %{states: states, next: next},
        started: started == next,
        acked_count: state.acked_count + length(acked),
        kills: state.kills + 1,
        in_flight: state.in_flight + if(started == next, do: 1, else: 0),
        orphans_seen: state.orphans_seen + length(temps)
    }

    cond do
      errors != [] -> problem(state, "round #{round}: writer error #{inspect(errors)}")
      status == 0 -> problem(state, "round #{round}: writer ended on its own")
      true -> Enum.reduce(torn_files(state.dirs), state, &problem(&2, "round #{round}: #{&1}"))
    end
  end

  @doc """
  Problems with the files of `dirs` as a kill left them, before anything
  reopens the directory: whatever was interrupted, every data file and the
  manifest must decode.
  """
  @spec torn_files([{Backend.t(), Path.t()}]) :: [String.t()]
  def torn_files(dirs) do
    for {backend, dir} <- dirs,
        file <- Backend.data_files(backend, dir) ++ manifest(backend, dir),
        match?({:error, _}, Backend.decode_file(backend, File.read!(Path.join(dir, file)))),
        do: "#{backend.name}: #{file} does not decode after the kill"
  end

  defp manifest(backend, dir) do
    if File.exists?(Path.join(dir, backend.manifest_file)), do: [backend.manifest_file], else: []
  end

  @doc """
  The last check, in a fresh VM: what it finds on opening each directory of
  `lane` must be what `run_lane/4` expects (`lane.expected`), and no temp
  file or record may be left. Returns `{problems, temp files that were
  there before it opened}`.
  """
  @spec check_in_fresh_vm(map()) :: {[String.t()], non_neg_integer()}
  def check_in_fresh_vm(lane) do
    temps = lane.dirs |> Enum.flat_map(fn {_b, dir} -> Backend.temp_files(dir) end) |> length()

    case SubVM.run(@reader, targets(lane.dirs), [label: :commit_checker], 300_000) do
      {0, lines} ->
        if "DONE" in lines do
          counters = %{started: false, keys_checked: 0, rolled_forward: 0, rolled_back: 0}
          checked = judge(Map.merge(counters, %{lane | problems: []}), "fresh VM", lines)

          left =
            for "L " <> rest <- lines,
                [name, count] = String.split(rest, " "),
                count != "0",
                do: "fresh VM: #{name}: #{count} temp files or records left after opening"

          {checked.problems ++ left, temps}
        else
          {["fresh VM: #{tail(lines)}"], temps}
        end

      {status, lines} ->
        {["fresh VM exited #{inspect(status)}: #{tail(lines)}"], temps}
    end
  end

  @doc "A directory's state before any commit: no key, fresh credentials."
  @spec empty_state() :: map()
  def empty_state do
    Map.new([
      {"creds", :fresh}
      | Enum.map(CrashWriter.commit_keys(), &{CrashWriter.key_label(&1), :absent})
    ])
  end

  @doc "`state` after commit `seq` (`CrashWriter.commit_items/1`)."
  @spec after_commit(map(), non_neg_integer()) :: map()
  def after_commit(state, seq) do
    Enum.reduce(CrashWriter.commit_items(seq), state, fn
      "+" <> key, acc -> Map.put(acc, key, seq)
      "-" <> key, acc -> Map.put(acc, key, :absent)
    end)
  end

  defp parse_states(lines) do
    Enum.reduce(lines, %{}, fn line, acc ->
      case String.split(line, " ") do
        ["S", name, key, word] ->
          Map.update(acc, name, %{key => word(word)}, &Map.put(&1, key, word(word)))

        _ ->
          acc
      end
    end)
  end

  defp word("absent"), do: :absent
  defp word("fresh"), do: :fresh
  defp word("bad"), do: :bad
  defp word(seq), do: String.to_integer(seq)

  # The writer sends commit `seq` to the `rem(seq, n)`-th of its `n` targets.
  defp name_at(dirs, seq), do: dirs |> Enum.at(rem(seq, length(dirs))) |> name()

  defp name({backend, _dir}), do: Atom.to_string(backend.name)

  defp targets(dirs), do: for({b, dir} <- dirs, do: "#{b.name}=#{dir}")

  defp problem(state, text), do: %{state | problems: state.problems ++ [text]}

  defp tail(lines), do: lines |> Enum.take(-20) |> Enum.join("\n")
end
