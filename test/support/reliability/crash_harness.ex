defmodule BaileysEx.Auth.NIF.Test.Reliability.CrashHarness do
  @moduledoc """
  Kills `CrashWriter` VMs with SIGKILL at random moments and checks what
  they left behind.

  Each lane owns one directory per backend and runs rounds one after the
  other: start a writer, wait until it is ready, let it write for a random
  while, kill it, read everything it printed, check the directories. After
  the last round the same check runs once more in a fresh VM, which must
  also remove the orphan temp files the kills left.

  The check: every data file and the manifest decode; every key the writer
  acknowledged holds that value or a later one of its own (values carry
  their key, sequence number and checksum); the manifest lists every
  acknowledged key; at most one temp file exists (the killed write's).

  With `mode: :commits` the writers make multi-key commits instead and each
  commit must be found whole, all or nothing (`CommitCrash`).
  """

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, CommitCrash, CrashWriter, SubVM}

  @writer "BaileysEx.Auth.NIF.Test.Reliability.CrashWriter.main(System.argv())"
  @checker "BaileysEx.Auth.NIF.Test.Reliability.CrashHarness.main_check(System.argv())"

  @type report :: %{
          kills: non_neg_integer(),
          acked: non_neg_integer(),
          in_flight: non_neg_integer(),
          keys_checked: non_neg_integer(),
          orphans_seen: non_neg_integer(),
          problems: [String.t()],
          fresh_vm: [String.t()],
          orphans_removed: non_neg_integer(),
          rolled_forward: non_neg_integer(),
          rolled_back: non_neg_integer()
        }

  @doc """
  Runs `rounds` kills in each of `lanes` lanes under `root`.
  Options: `:lanes` (default 2), `:rounds` per lane, `:seed`, `:max_delay_ms`,
  `:mode` (`:saves`, the default, or `:commits`). `rolled_forward` and
  `rolled_back` count, in commit mode, the commits cut short by a kill that
  the next VM found applied, and found not applied (or not yet begun).
  """
  @spec run(Path.t(), keyword()) :: report()
  def run(root, opts) do
    lanes = Keyword.get(opts, :lanes, 2)
    rounds = Keyword.fetch!(opts, :rounds)
    seed = Keyword.get(opts, :seed, :erlang.unique_integer([:positive]))
    max_delay = Keyword.get(opts, :max_delay_ms, 300)
    mode = Keyword.get(opts, :mode, :saves)
    backends = Backend.all()

    lane_reports =
      1..lanes
      |> Enum.map(fn lane ->
        dirs =
          for b <- backends, do: {b, Path.join([root, "lane#{lane}", Atom.to_string(b.name)])}

        rng = :rand.seed_s(:exsss, {seed, lane, 7})

        case mode do
          :saves -> Task.async(fn -> run_lane(dirs, rounds, rng, max_delay) end)
          :commits -> Task.async(fn -> CommitCrash.run_lane(dirs, rounds, rng, max_delay) end)
        end
      end)
      |> Task.await_many(:infinity)

    fresh =
      case mode do
        :saves -> Enum.map(lane_reports, &check_in_fresh_vm(root, &1))
        :commits -> Enum.map(lane_reports, &CommitCrash.check_in_fresh_vm/1)
      end

    Enum.reduce(
      lane_reports,
      %{
        kills: 0,
        acked: 0,
        in_flight: 0,
        keys_checked: 0,
        orphans_seen: 0,
        problems: [],
        fresh_vm: Enum.flat_map(fresh, &elem(&1, 0)),
        orphans_removed: fresh |> Enum.map(&elem(&1, 1)) |> Enum.sum(),
        rolled_forward: 0,
        rolled_back: 0
      },
      fn lane, acc ->
        %{
          acc
          | kills: acc.kills + lane.kills,
            acked: acc.acked + lane.acked_count,
            in_flight: acc.in_flight + lane.in_flight,
            keys_checked: acc.keys_checked + lane.keys_checked,
            orphans_seen: acc.orphans_seen + lane.orphans_seen,
            problems: acc.problems ++ lane.problems,
            rolled_forward: acc.rolled_forward + Map.get(lane, :rolled_forward, 0),
            rolled_back: acc.rolled_back + Map.get(lane, :rolled_back, 0)
        }
      end
    )
  end

  defp run_lane(dirs, rounds, rng, max_delay) do
    initial = %{
      dirs: dirs,
      acked: %{},
      acked_count: 0,
      kills: 0,
      in_flight: 0,
      keys_checked: 0,
      orphans_seen: 0,
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
    targets = for {b, dir} <- state.dirs, do: "#{b.name}=#{dir}"
    vm = SubVM.start(@writer, [Integer.to_string(base) | targets], label: {:writer, round})

    case SubVM.await_line(vm, &(&1 == "READY"), 120_000) do
      {:ok, _, _} ->
        {delay, rng} = delay(state.rng, max_delay)
        Process.sleep(delay)
        {:killed, status, lines} = SubVM.kill(vm)
        state = %{state | rng: rng}
        absorb(state, round, status, lines)

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
    {ms, rng} = :rand.uniform_s(if(pick == 1, do: 5, else: max_delay), rng)
    {ms, rng}
  end

  defp absorb(state, round, status, lines) do
    {acked, count, pending, errors} =
      Enum.reduce(lines, {state.acked, 0, nil, []}, fn line, {acked, count, pending, errors} ->
        case String.split(line, " ") do
          ["A", name, key, seq] ->
            {Map.update(
               acked,
               {name, key},
               String.to_integer(seq),
               &max(&1, String.to_integer(seq))
             ), count + 1, nil, errors}

          ["B" | _] ->
            {acked, count, line, errors}

          ["E" | _] ->
            {acked, count, pending, [line | errors]}

          _ ->
            {acked, count, pending, errors}
        end
      end)

    state = %{
      state
      | acked: acked,
        acked_count: state.acked_count + count,
        kills: state.kills + 1,
        in_flight: state.in_flight + if(pending, do: 1, else: 0)
    }

    cond do
      errors != [] -> problem(state, "round #{round}: writer error #{inspect(errors)}")
      status == 0 -> problem(state, "round #{round}: writer ended on its own")
      true -> check_round(state, round)
    end
  end

  defp check_round(state, round) do
    {problems, checked} = check(state.dirs, state.acked)

    temps =
      Enum.flat_map(state.dirs, fn {_b, dir} -> Enum.map(Backend.temp_files(dir), &{dir, &1}) end)

    problems =
      if length(temps) > 1,
        do: [
          "#{length(temps)} temp files, orphans were not removed: #{inspect(temps)}" | problems
        ],
        else: problems

    state = %{
      state
      | keys_checked: state.keys_checked + checked,
        orphans_seen: state.orphans_seen + length(temps)
    }

    Enum.reduce(problems, state, fn p, acc -> problem(acc, "round #{round}: #{p}") end)
  end

  defp problem(state, text), do: %{state | problems: state.problems ++ [text]}

  @doc """
  Checks directories against acknowledged writes. `dirs` is a list of
  `{backend, dir}`, `acked` maps `{backend_name, key_label}` to the last
  acknowledged sequence number. Returns `{problems, keys_checked}`.
  """
  @spec check([{Backend.t(), Path.t()}], map()) :: {[String.t()], non_neg_integer()}
  def check(dirs, acked) do
    results =
      for {backend, dir} <- dirs do
        name = Atom.to_string(backend.name)
        manifest = Backend.manifest(backend, dir)

        manifest_problems =
          case manifest do
            {:ok, _} -> []
            :missing -> if has_acked?(acked, name), do: ["#{name}: manifest missing"], else: []
            {:error, reason} -> ["#{name}: manifest does not decode: #{inspect(reason)}"]
          end

        key_problems =
          for key <- [:creds | CrashWriter.keys()],
              problem =
                check_key(backend, dir, manifest, key, acked[{name, CrashWriter.key_label(key)}]),
              do: problem

        file_problems =
          for file <- Backend.data_files(backend, dir),
              match?({:error, _}, Backend.decode_file(backend, File.read!(Path.join(dir, file)))),
              do: "#{name}: #{file} does not decode"

        {manifest_problems ++ key_problems ++ file_problems, length(CrashWriter.keys()) + 1}
      end

    {Enum.flat_map(results, &elem(&1, 0)), results |> Enum.map(&elem(&1, 1)) |> Enum.sum()}
  end

  defp has_acked?(acked, name), do: Enum.any?(Map.keys(acked), &match?({^name, _}, &1))

  defp check_key(backend, dir, _manifest, :creds, acked_seq) do
    loaded =
      case backend.module.load_credentials(dir) do
        {:ok, state} -> Backend.check_creds(state)
        other -> {:load_error, other}
      end

    judge(backend, "creds", loaded, acked_seq, :fresh)
  end

  defp check_key(backend, dir, manifest, {type, id} = key, acked_seq) do
    loaded =
      case backend.module.load_keys(dir, type, id) do
        {:ok, value} -> Backend.check_key_value(backend, id, value)
        {:error, :not_found} -> :absent
        other -> {:load_error, other}
      end

    label = CrashWriter.key_label(key)

    case judge(backend, label, loaded, acked_seq, :absent) do
      nil when acked_seq != nil ->
        listed =
          match?({:ok, index} when is_map(index), manifest) and
            id in Map.get(elem(manifest, 1), Atom.to_string(type), [])

        if listed, do: nil, else: "#{backend.name}: #{label} acknowledged but not in the manifest"

      other ->
        other
    end
  end

  defp judge(backend, label, loaded, acked_seq, empty) do
    case {loaded, acked_seq} do
      {{:ok, _seq}, nil} -> nil
      {^empty, nil} -> nil
      {{:ok, seq}, acked} when seq >= acked -> nil
      {{:ok, seq}, acked} -> "#{backend.name}: #{label} went back from #{acked} to #{seq}"
      {^empty, acked} -> "#{backend.name}: #{label} lost: acknowledged #{acked}, now missing"
      {:error, _} -> "#{backend.name}: #{label} holds a value the writer never wrote"
      {other, _} -> "#{backend.name}: #{label} does not load: #{inspect(other)}"
    end
  end

  defp check_in_fresh_vm(root, lane) do
    file = Path.join(root, "model-#{:erlang.unique_integer([:positive])}.etf")
    dirs = for {b, dir} <- lane.dirs, do: {b.name, dir}
    File.write!(file, :erlang.term_to_binary(%{dirs: dirs, acked: lane.acked}))

    case SubVM.run(@checker, [file], [label: :checker], 300_000) do
      {0, lines} ->
        removed =
          Enum.find_value(lines, 0, fn
            "TEMPS_REMOVED " <> n -> String.to_integer(n)
            _ -> nil
          end)

        if "CHECK_OK" in lines, do: {[], removed}, else: {["fresh VM: #{tail(lines)}"], removed}

      {status, lines} ->
        {["fresh VM exited #{inspect(status)}: #{tail(lines)}"], 0}
    end
  end

  @doc """
  Entry point of the fresh-VM check: reads the model written by `run/2`,
  runs `check/2` and prints `CHECK_OK` or the problems. Opening each
  directory must also remove the temp files left by the kills.
  """
  @spec main_check([String.t()]) :: :ok
  def main_check([file]) do
    %{dirs: dirs, acked: acked} = file |> File.read!() |> :erlang.binary_to_term()

    dirs =
      for {name, dir} <- dirs do
        {:ok, backend} = Backend.fetch(name)
        {backend, dir}
      end

    temps_before = Enum.flat_map(dirs, fn {_, dir} -> Backend.temp_files(dir) end)
    {problems, checked} = check(dirs, acked)
    temps_after = Enum.flat_map(dirs, fn {_, dir} -> Backend.temp_files(dir) end)

    problems =
      if temps_after == [],
        do: problems,
        else: ["orphan temp files not removed on open: #{inspect(temps_after)}" | problems]

    IO.puts("TEMPS_REMOVED #{length(temps_before)}")
    IO.puts("KEYS_CHECKED #{checked}")
    if problems == [], do: IO.puts("CHECK_OK"), else: IO.puts("CHECK_FAIL #{inspect(problems)}")
    :ok
  end

  defp tail(lines), do: lines |> Enum.take(-20) |> Enum.join("\n")
end
