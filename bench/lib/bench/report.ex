defmodule BaileysEx.Auth.NIF.Bench.Report do
  @moduledoc """
  Renders the results as plain-text tables for people: per backend, the
  single calls, the scaling scenario, and the bulk scenarios, each with the
  ratio baseline/NIF (above 1 means the NIF is faster) and, where a target
  is set, whether it is met. A summary of missed targets closes the report.
  """

  alias BaileysEx.Auth.NIF.Bench.{Implementations, Row, Trust}

  @typedoc """
  Results of one backend, as collected by the runner; `sections` holds the
  `Trust` verdict of each measured section, with its `section` (the rows'
  section) and `label`.
  """
  @type backend_result :: %{
          required(:plan) => map(),
          required(:rows) => [Row.t()],
          optional(:notes) => [String.t()],
          optional(:sections) => [map()]
        }

  @doc "The whole report as a string."
  @spec render(%{machine: map(), mode: atom(), backends: [backend_result()]}) :: String.t()
  def render(%{machine: machine, mode: mode, backends: backends}) do
    [
      header(machine, mode),
      Enum.map(backends, &backend/1),
      summary(backends, mode),
      conditions(backends)
    ]
    |> IO.iodata_to_binary()
  end

  defp header(machine, mode) do
    [
      "baileys_ex_nif_persistence benchmark (#{mode} mode), #{machine.date_utc}\n",
      "OTP #{machine.otp_release} (erts #{machine.erts_version}), Elixir #{machine.elixir_version}, ",
      "#{machine.schedulers_online} schedulers, #{machine.logical_processors} cores",
      if(machine.cpu_model, do: ", #{machine.cpu_model}", else: ""),
      "\n",
      "disk: write+fsync of 4 KiB takes #{fmt_us(machine.fsync_probe_us)} µs (median)\n",
      "base = baseline; ratio = baseline / NIF (above 1: the NIF is faster)\n",
      if(mode == :quick,
        do: "quick mode: small sizes and few samples, figures are indicative only\n",
        else: ""
      )
    ]
  end

  defp backend(%{plan: plan, rows: rows} = result) do
    sections = Map.get(result, :sections, [])

    [
      "\n== #{plan.title} backend ==\n",
      Enum.map(
        plan.impls,
        &"  #{pad(&1.label <> ":", 10)}#{inspect(&1.module)} (#{&1.source})\n"
      ),
      Enum.map(plan.skipped, &"  #{&1}\n"),
      Enum.map(Map.get(result, :notes, []), &"  note: #{&1}\n"),
      per_op_table(
        "Single calls (µs per call)",
        Enum.filter(rows, &(&1.section == :single)),
        sections
      ),
      per_op_table(
        "Scaling (µs per call, by keys already present)",
        Enum.filter(rows, &(&1.section == :scaling)),
        sections
      ),
      totals_table(
        "Bulk (summed time of the calls)",
        Enum.filter(rows, &(&1.kind == :total)),
        sections
      ),
      concurrent_table(Enum.filter(rows, &(&1.kind == :concurrent)), sections)
    ]
  end

  defp per_op_table(_title, [], _sections), do: []

  defp per_op_table(title, rows, sections) do
    head = [title, "n", "base med", "base p90", "NIF med", "NIF p90", "ratio", "target"]

    body =
      Enum.map(rows, fn row ->
        b = row.figures[:baseline]
        n = row.figures[:nif]

        [
          row.name,
          to_string(max(count(b), count(n))),
          fmt_us(b[:median_us]),
          fmt_us(b[:p90_us]),
          fmt_us(n[:median_us]),
          fmt_us(n[:p90_us]),
          fmt_ratio(Row.ratio(row)),
          target(row)
        ]
      end)

    ["\n", table(head, body), warnings(rows, sections), notes(rows)]
  end

  defp totals_table(_title, [], _sections), do: []

  defp totals_table(title, rows, sections) do
    head = [title, "calls", "base ms", "base med µs", "NIF ms", "NIF med µs", "ratio"]

    body =
      Enum.map(rows, fn row ->
        b = row.figures[:baseline]
        n = row.figures[:nif]

        [
          row.name,
          to_string(row.ops),
          fmt_ms(b[:total_ms]),
          fmt_us(b[:median_us]),
          fmt_ms(n[:total_ms]),
          fmt_us(n[:median_us]),
          fmt_ratio(Row.ratio(row))
        ]
      end)

    ["\n", table(head, body), warnings(rows, sections), notes(rows)]
  end

  defp concurrent_table([], _sections), do: []

  defp concurrent_table(rows, sections) do
    head = [
      "Concurrent writers",
      "calls",
      "base wall ms",
      "base ops/s",
      "base p99 µs",
      "NIF wall ms",
      "NIF ops/s",
      "NIF p99 µs",
      "ratio"
    ]

    body =
      Enum.map(rows, fn row ->
        b = row.figures[:baseline]
        n = row.figures[:nif]

        [
          row.name,
          to_string(row.ops),
          fmt_ms(b[:wall_ms]),
          fmt_int(b[:ops_per_s]),
          fmt_us(b[:p99_us]),
          fmt_ms(n[:wall_ms]),
          fmt_int(n[:ops_per_s]),
          fmt_us(n[:p99_us]),
          fmt_ratio(Row.ratio(row))
        ]
      end)

    listed =
      Enum.map(rows, fn row ->
        "  keys listed afterwards: " <>
          Enum.map_join(row.figures, ", ", fn {id, f} ->
            "#{Implementations.label(id)} #{f.listed}"
          end) <>
          " of #{row.ops}\n"
      end)

    ["\n", table(head, body), warnings(rows, sections), listed, notes(rows)]
  end

  # The warnings of the sections that measured these rows, under their table.
  defp warnings(rows, sections) do
    measured = rows |> Enum.map(& &1.section) |> MapSet.new()

    for %{section: section, label: label} = verdict <- sections,
        MapSet.member?(measured, section),
        line = Trust.warning(label, verdict),
        do: "  #{line}\n"
  end

  defp notes(rows) do
    rows |> Enum.map(&Map.get(&1, :note)) |> Enum.reject(&is_nil/1) |> Enum.map(&"  #{&1}\n")
  end

  defp summary(backends, mode) do
    judged =
      for %{plan: plan, rows: rows} <- backends,
          row <- rows,
          Map.get(row, :target) != nil,
          do: {plan.title, row}

    missed = Enum.filter(judged, fn {_, row} -> Row.status(row) == :missed end)
    met = Enum.count(judged, fn {_, row} -> Row.status(row) == :met end)
    unjudged = length(judged) - met - length(missed)

    [
      "\n== Targets ==\n",
      "  >=3x on every single-key call (save/load/delete, small and large, and the hot path);\n",
      "  >=10x on load_keys and >=5x on new-key save_keys with 10,000 keys present",
      if(mode == :quick,
        do: "\n  (not judged in quick mode, which stops at a smaller size).\n",
        else: ".\n"
      ),
      "  met: #{met}, missed: #{length(missed)}",
      if(unjudged > 0, do: ", not judged (a figure is missing): #{unjudged}", else: ""),
      "\n",
      Enum.map(missed, fn {title, row} ->
        "  MISSED #{title} #{row.name}: #{fmt_ratio(Row.ratio(row))} < #{fmt_target(row.target)}\n"
      end)
    ]
  end

  defp conditions(backends) do
    judged =
      for %{plan: plan} = b <- backends, s <- Map.get(b, :sections, []), do: {plan.title, s}

    doubtful = for {title, %{trusted: false, label: label}} <- judged, do: "#{title} #{label}"
    unmeasured? = Enum.any?(judged, fn {_, s} -> s.other_cpu_share == nil end)
    rules = Trust.rules()

    [
      "\n== Measuring conditions ==\n",
      "  a section is flagged when other processes used more than ",
      "#{round(rules.max_other_cpu_share * 100)}% of the CPU time during it, or when the ",
      "disk's flush\n  time (fsync probe before and after) moved by more than ",
      "#{:erlang.float_to_binary(rules.max_flush_ratio, decimals: 0)}x\n",
      if(unmeasured?,
        do: "  CPU times could not be read here (no /proc): only the flush time was checked\n",
        else: ""
      ),
      case doubtful do
        [] ->
          "  all #{length(judged)} sections ran on a quiet machine with a steady disk\n"

        _ ->
          "  WARNING: #{length(doubtful)} of #{length(judged)} sections flagged " <>
            "(#{Enum.join(doubtful, ", ")}): their ratios may be off; rerun on a quiet machine\n"
      end
    ]
  end

  @doc "A row's target cell: `>=20x ok`, `>=20x MISSED`, `>=20x n/a`, or empty."
  @spec target(map()) :: String.t()
  def target(row) do
    case {Map.get(row, :target), Row.status(row)} do
      {nil, _} -> ""
      {t, :met} -> "#{fmt_target(t)} ok"
      {t, :missed} -> "#{fmt_target(t)} MISSED"
      {t, :none} -> "#{fmt_target(t)} n/a"
    end
  end

  @doc "How many samples a figure rests on (0 for none)."
  @spec count(map() | nil) :: non_neg_integer()
  def count(nil), do: 0
  def count(figures), do: figures.n

  # --- layout -------------------------------------------------------------

  @doc """
  A text table: the header, a rule, the rows; the first column padded on the
  right, the others on the left.
  """
  @spec table([String.t()], [[String.t()]]) :: iodata()
  def table(head, body) do
    rows = [head | body]

    widths =
      rows
      |> Enum.zip()
      |> Enum.map(fn column ->
        column |> Tuple.to_list() |> Enum.map(&String.length/1) |> Enum.max()
      end)

    lines =
      Enum.map(rows, fn cells ->
        cells
        |> Enum.zip(widths)
        |> Enum.with_index()
        |> Enum.map_join("  ", fn
          {{cell, width}, 0} -> pad(cell, width)
          {{cell, width}, _} -> String.pad_leading(cell, width)
        end)
        |> String.trim_trailing()
      end)

    rule = String.duplicate("-", widths |> Enum.sum() |> Kernel.+(2 * (length(widths) - 1)))
    [hd(lines), "\n", rule, "\n", Enum.map(tl(lines), &[&1, "\n"])]
  end

  defp pad(text, width), do: String.pad_trailing(text, width)

  @doc "Formats microseconds: one decimal below 100, whole numbers with separators above."
  @spec fmt_us(number() | nil) :: String.t()
  def fmt_us(nil), do: "-"
  def fmt_us(us) when us < 100, do: :erlang.float_to_binary(us / 1, decimals: 1)
  def fmt_us(us), do: fmt_int(us)

  @doc "Formats milliseconds like `fmt_us/1`."
  @spec fmt_ms(number() | nil) :: String.t()
  def fmt_ms(ms), do: fmt_us(ms)

  @doc "Formats a ratio as `12.3x`."
  @spec fmt_ratio(number() | nil) :: String.t()
  def fmt_ratio(nil), do: "n/a"
  def fmt_ratio(r) when r < 10, do: :erlang.float_to_binary(r / 1, decimals: 2) <> "x"
  def fmt_ratio(r), do: :erlang.float_to_binary(r / 1, decimals: 1) <> "x"

  defp fmt_target(t), do: ">=#{:erlang.float_to_binary(t / 1, decimals: 0)}x"

  defp fmt_int(nil), do: "-"

  defp fmt_int(x) do
    x
    |> round()
    |> Integer.to_string()
    |> String.reverse()
    |> String.replace(~r/(\d{3})(?=\d)/, "\\1,")
    |> String.reverse()
  end
end
