defmodule BaileysEx.Auth.NIF.Bench.Commits do
  @moduledoc """
  Atomic commits and batch loads, which the originals do not have, against
  the baseline doing the same one key at a time (one `save_keys` or
  `load_keys` per key, as BaileysEx's KeyStore calls it today):

    * commit N pre-keys: the pre-keys a new device uploads, into an empty
      directory (N = 812 in the full run);
    * commit M sessions: M existing sessions re-saved with their chains
      advanced, as sending to a large group does (M = 256);
    * commit: receive (1 session): one existing session re-saved, as
      receiving a message does;
    * load_many N pre-keys: N existing pre-keys loaded at once.

  Each sample is the whole set: one commit (or `load_many`) for the NIF, N
  calls for the baseline. Beside the rows the section prints the disk's own
  flush latency (a 4 KiB write and its fsync), and each commit's time in
  flushes: a commit makes two, whatever its size.
  """

  alias BaileysEx.Auth.NIF.Bench.{
    Calls,
    Config,
    Implementations,
    Machine,
    Report,
    ResultsJSON,
    Row,
    Scenarios,
    Values,
    Workspace
  }

  @targets %{pre_keys: 30.0, sessions: 20.0, receive: 3.0, load_many: 5.0}

  @doc """
  Runs the four rows for one backend's plan. Each row also carries
  `flush_us`, the disk's flush latency measured just before the section.
  """
  @spec run(Implementations.plan(), Workspace.t(), Config.t(), (String.t() -> any())) :: [Row.t()]
  def run(plan, ws, config, progress) do
    c = config.commits
    flush = flush_us(ws)

    [
      {"commit #{c.pre_keys} pre-keys", :pre_keys, c.sets, pre_keys(ws, c.pre_keys)},
      {"commit #{c.sessions} sessions", :sessions, c.sets,
       sessions(c.sessions, config.typical_message_keys)},
      {"commit: receive (1 session)", :receive, c.receive,
       sessions(1, config.typical_message_keys)},
      {"load_many #{c.pre_keys} pre-keys", :load_many, c.loads, load_many(c.pre_keys)}
    ]
    |> Enum.map(fn {name, target, sampling, build} ->
      progress.(name)
      samples = Scenarios.compare(plan, ws, name, sampling, build)

      :commits
      |> Row.per_op(name, samples, op: :commit, target: @targets[target])
      |> Map.put(:flush_us, flush)
    end)
  end

  # A fresh directory per sample: the pre-keys of a new device.
  defp pre_keys(ws, count) do
    values = Map.new(1..count, &{&1, Values.pre_key(&1)})

    fn impl, _dir ->
      %{
        setup: fn _i -> Workspace.fresh_dir(ws, "commit_pre_keys", impl.id) end,
        run: fn _i, dir ->
          case impl.id do
            :nif ->
              commit!(impl, dir, %{"pre-key": values})

            :baseline ->
              Enum.each(values, fn {id, v} -> Calls.save!(impl, dir, :"pre-key", id, v) end)
          end
        end
      }
    end
  end

  # `count` existing sessions, each re-saved with its chain advanced.
  defp sessions(count, message_keys) do
    records =
      Map.new(
        1..count,
        &{Scenarios.key_id(:session, &1), Values.session_record(&1, message_keys)}
      )

    fn impl, dir ->
      %{
        prepare: fn ->
          Enum.each(records, fn {id, r} -> Calls.save!(impl, dir, :session, id, r) end)
        end,
        setup: fn i ->
          Map.new(records, fn {id, r} -> {id, Values.advance_session(r, i + 1)} end)
        end,
        run: fn _i, advanced ->
          case impl.id do
            :nif ->
              commit!(impl, dir, %{session: advanced})

            :baseline ->
              Enum.each(advanced, fn {id, r} -> Calls.save!(impl, dir, :session, id, r) end)
          end
        end
      }
    end
  end

  defp load_many(count) do
    ids = Enum.to_list(1..count)

    fn impl, dir ->
      %{
        prepare: fn ->
          Enum.each(ids, &Calls.save!(impl, dir, :"pre-key", &1, Values.pre_key(&1)))
        end,
        run: fn _i, _ ->
          case impl.id do
            :nif -> load_many!(impl, dir, ids)
            :baseline -> Enum.each(ids, &Calls.load!(impl, dir, :"pre-key", &1))
          end
        end
      }
    end
  end

  defp commit!(impl, dir, changes) do
    case impl.module.commit(dir, changes) do
      :ok -> :ok
      other -> raise "#{inspect(impl.module)}.commit returned #{inspect(other, limit: 10)}"
    end
  end

  defp load_many!(impl, dir, ids) do
    case impl.module.load_many(dir, :"pre-key", ids) do
      {:ok, found} when map_size(found) == length(ids) -> found
      other -> raise "#{inspect(impl.module)}.load_many returned #{inspect(other, limit: 10)}"
    end
  end

  @doc """
  The section for people: per backend, the four rows with the NIF's time
  also in flushes of this disk (a 4 KiB write and its fsync, measured just
  before the section ran).
  """
  @spec render([%{plan: map(), rows: [Row.t()]}]) :: String.t()
  def render(results) do
    head = [
      "Commits (µs per set)",
      "n",
      "base med",
      "NIF med",
      "NIF in flushes",
      "ratio",
      "target"
    ]

    sections =
      for %{plan: plan, rows: rows} <- results,
          rows = Enum.filter(rows, &(&1.section == :commits)),
          rows != [] do
        body =
          Enum.map(rows, fn row ->
            b = row.figures[:baseline]
            n = row.figures[:nif]

            [
              row.name,
              to_string(max(Report.count(b), Report.count(n))),
              Report.fmt_us(b[:median_us]),
              Report.fmt_us(n[:median_us]),
              in_flushes(n, row.flush_us),
              Report.fmt_ratio(Row.ratio(row)),
              Report.target(row)
            ]
          end)

        [
          "\n== #{plan.title}: atomic commits and batch loads ==\n",
          "flush latency just before: a 4 KiB write and its fsync take ",
          "#{Report.fmt_us(hd(rows).flush_us)} µs (median)\n",
          Report.table(head, body)
        ]
      end

    IO.iodata_to_binary([
      sections,
      "a commit makes two flushes whatever its size; the baseline two (JSON) or four (ETF) per key\n"
    ])
  end

  defp in_flushes(nil, _flush_us), do: "-"

  defp in_flushes(nif, flush_us),
    do: :erlang.float_to_binary(nif.median_us / flush_us, decimals: 1)

  @doc "The disk's flush latency in µs (see `Machine.fsync_probe_us/1`), measured in `ws`."
  @spec flush_us(Workspace.t()) :: float()
  def flush_us(ws), do: Machine.fsync_probe_us(Path.join(ws.root, "flush-probe"))

  @doc """
  Runs only this section, for both backends, and returns its text; writes
  `commits.json` into `results_dir`. For `mix baileys_ex_nif.bench --only
  commits`.
  """
  @spec run_alone(%{mode: :quick | :full, results_dir: Path.t()}) :: String.t()
  def run_alone(%{mode: mode, results_dir: results_dir}) do
    config = Config.get(mode)
    ws = Workspace.new(results_dir)

    try do
      results =
        for backend <- Implementations.backends() do
          plan = Implementations.plan(backend)
          progress = fn what -> IO.puts("  #{plan.title} #{what}") end
          %{plan: plan, rows: if(plan.impls == [], do: [], else: run(plan, ws, config, progress))}
        end

      File.mkdir_p!(results_dir)

      json =
        for %{plan: plan, rows: rows} <- results, row <- rows do
          %{
            backend: plan.backend,
            name: row.name,
            ratio: Row.ratio(row),
            target: row.target,
            flush_us: row.flush_us,
            median_us: Map.new(row.figures, fn {id, f} -> {id, f.median_us} end),
            samples_us: row.samples
          }
        end

      path = Path.join(results_dir, "commits.json")
      ResultsJSON.write!(path, %{mode: mode, machine: Machine.info(ws.root), rows: json})
      render(results) <> "wrote #{Path.relative_to_cwd(path)}\n"
    after
      Workspace.cleanup(ws)
    end
  end
end
