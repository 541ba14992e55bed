defmodule BaileysEx.Auth.NIF.Bench.SignalStoreReport do
  @moduledoc """
  What the Signal store section reports, from its results
  (`%{backend => [row]}` of `BaileysEx.Auth.NIF.Bench.SignalStore.run/3`):
  the text (a table per backend, the warnings of its untrusted scenarios
  under it, a summary of the verdicts) and the data of `signal_store.json`.
  """

  alias BaileysEx.Auth.NIF.Bench.{ResultsJSON, SignalStore, Trust}

  @typedoc "The results of the section: rows per backend."
  @type results :: %{atom() => [SignalStore.row()]}

  @doc "The section's text: a table per backend with both ratios, targets and warnings."
  @spec render(results(), number()) :: String.t()
  def render(results, flush_us) when is_map(results) do
    setups = SignalStore.setups()

    header =
      "== Signal store (what BaileysEx calls), median ms of the whole scenario ==\n" <>
        "disk: write+fsync of 4 KiB takes #{round(flush_us)} µs (median)\n" <>
        "ratios: twin + baseline time / the set-up's time; target applies to NIF store + NIF\n"

    tables =
      for {backend, rows} <- Enum.sort(results) do
        "\n#{backend}:\n" <>
          String.pad_trailing("scenario", 42) <>
          Enum.map_join(setups, &String.pad_leading(SignalStore.label(&1), 17)) <>
          "   ratio (twin+NIF)   ratio (NIF store)   target\n" <>
          Enum.map_join(rows, "\n", &render_row(&1, setups)) <>
          "\n" <> Enum.map_join(rows, &warning_line/1)
      end

    header <> Enum.join(tables) <> "\n" <> summary(results) <> "\n"
  end

  defp render_row(row, setups) do
    target =
      case SignalStore.met?(row) do
        nil -> ""
        true -> ">=#{row.target}x ok"
        false -> ">=#{row.target}x MISSED"
      end

    String.pad_trailing(row.name, 42) <>
      Enum.map_join(setups, &String.pad_leading(fmt(row.ms[&1]), 17)) <>
      String.pad_leading("#{fmt(SignalStore.ratio(row, :twin_nif))}x", 19) <>
      String.pad_leading("#{fmt(SignalStore.ratio(row, :nif_nif))}x", 20) <> "   " <> target
  end

  defp warning_line(row) do
    case Trust.warning(row.name, row.verdict) do
      nil -> ""
      line -> "  #{line}\n"
    end
  end

  defp fmt(value) when value >= 100, do: Integer.to_string(round(value))
  defp fmt(value), do: :erlang.float_to_binary(value / 1, decimals: 1)

  @doc """
  One line on the verdicts of all scenarios: all trusted, or how many are
  not.
  """
  @spec summary(results()) :: String.t()
  def summary(results) when is_map(results) do
    verdicts = for {_backend, rows} <- results, row <- rows, do: row.verdict
    untrusted = Enum.count(verdicts, &(not &1.trusted))

    case untrusted do
      0 -> "trust: all #{length(verdicts)} scenarios trusted"
      k -> "trust: #{k} of #{length(verdicts)} untrusted: rerun on a quiet machine"
    end
  end

  @doc """
  The warning line of each untrusted scenario, naming its backend
  (`"etf: WARNING (...)"`), in table order.
  """
  @spec warnings(results()) :: [String.t()]
  def warnings(results) when is_map(results) do
    for {backend, rows} <- Enum.sort(results),
        row <- rows,
        line = Trust.warning(row.name, row.verdict),
        do: "#{backend}: #{line}"
  end

  @doc """
  The content of `signal_store.json`: per backend per scenario its name,
  key counts, medians and every sample per set-up (ms), ratios, target,
  whether it is met, and its verdict (trusted, reasons, and the conditions
  it rests on). `info` gives `mode`, `machine`, `repeats` and `scale`.
  """
  @spec json(results(), %{
          mode: atom(),
          machine: map(),
          repeats: pos_integer(),
          scale: pos_integer()
        }) ::
          map()
  def json(results, %{mode: mode, machine: machine, repeats: repeats, scale: scale})
      when is_map(results) do
    %{
      format: 1,
      mode: mode,
      machine: machine,
      repeats: repeats,
      scale: scale,
      setups: Map.new(SignalStore.setups(), &{&1, SignalStore.label(&1)}),
      ratios: "twin_baseline median / the set-up's median; the target applies to nif_nif",
      trusted: Enum.all?(results, fn {_, rows} -> Enum.all?(rows, & &1.verdict.trusted) end),
      trust_rules: Trust.rules(),
      backends: Map.new(results, fn {backend, rows} -> {backend, Enum.map(rows, &row_json/1)} end)
    }
  end

  defp row_json(row) do
    %{
      scenario: row.key,
      name: row.name,
      keys: row.keys,
      transactions: row.transactions,
      median_ms: ResultsJSON.rounded(row.ms),
      samples_ms: ResultsJSON.rounded(row.samples),
      ratios:
        ResultsJSON.rounded(%{
          twin_nif: SignalStore.ratio(row, :twin_nif),
          nif_nif: SignalStore.ratio(row, :nif_nif)
        }),
      target: row.target,
      met: SignalStore.met?(row),
      verdict: %{
        trusted: row.verdict.trusted,
        reasons: row.verdict.reasons,
        conditions: ResultsJSON.rounded(Map.drop(row.verdict, [:trusted, :reasons]))
      }
    }
  end
end
