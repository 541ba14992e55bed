defmodule BaileysEx.Auth.NIF.Bench.SignalStoreOutputTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Bench.{ResultsJSON, SignalStoreChart, SignalStoreReport, Trust}

  # Made-up results: nothing here is measured.
  defp verdict(flush_after_us) do
    sample = fn at_ms, flush_us ->
      %{
        at_ms: at_ms,
        cpus: 2,
        load1: 1.0,
        cpu: %{busy: 50_000 + round(at_ms / 100), total: 400_000 + round(at_ms / 5)},
        own_ticks: 7_000 + round(at_ms / 100),
        flush_us: flush_us
      }
    end

    Trust.judge(sample.(1_000.0, 500.0), sample.(11_000.0, flush_after_us))
  end

  defp row(key, name, short, {base, twin_nif, nif_nif}, target, opts) do
    spread = fn median -> [median * 1.1, median, median * 0.95] end

    %{
      key: key,
      name: name,
      short: short,
      keys: Keyword.get(opts, :keys, %{"pre-key": 0, session: 0}),
      transactions: Keyword.get(opts, :transactions, 0),
      ms: %{twin_baseline: base, twin_nif: twin_nif, nif_nif: nif_nif},
      samples: %{
        twin_baseline: spread.(base),
        twin_nif: spread.(twin_nif),
        nif_nif: spread.(nif_nif)
      },
      target: target,
      verdict: verdict(Keyword.get(opts, :flush_after_us, 520.0))
    }
  end

  defp results do
    %{
      etf: [
        row(:pairing, "pairing: set of 812 pre-keys", "pairing", {2352.0, 1239.0, 266.0}, 30,
          keys: %{"pre-key": 812, session: 0},
          flush_after_us: 1_400.0
        ),
        row(
          :restart,
          "restart: get 812 pre-keys + 256 sessions",
          "restart",
          {618.0, 59.9, 10.7},
          20,
          keys: %{"pre-key": 812, session: 256}
        )
      ],
      json: [
        row(:receive, "200 receive transactions", "receive", {417.0, 155.0, 156.0}, 4,
          keys: %{"pre-key": 0, session: 200},
          transactions: 200
        )
      ]
    }
  end

  defp trusted_results do
    Map.new(results(), fn {backend, rows} ->
      {backend, Enum.map(rows, &%{&1 | verdict: verdict(520.0)})}
    end)
  end

  describe "the table" do
    test "an untrusted scenario gets a WARNING line with its reasons under its backend's table" do
      text = SignalStoreReport.render(results(), 317.0)
      [_, etf, json] = String.split(text, ~r/^(etf|json):$/m)

      assert etf =~
               ~r/^  WARNING \(pairing: set of 812 pre-keys\): disk flush time moved: 500 µs -> 1.4 ms \(2.8x\): ratios may be off$/m

      refute etf =~ "WARNING (restart"
      refute json =~ "WARNING"
      assert text =~ ~r/^trust: 1 of 3 untrusted: rerun on a quiet machine$/m
    end

    test "rows keep their medians, both ratios and the target verdict" do
      text = SignalStoreReport.render(results(), 317.0)

      assert text =~
               ~r/^pairing: set of 812 pre-keys\s+2352\s+1239\s+266\s+1.9x\s+8.8x\s+>=30x MISSED$/m

      assert text =~ ~r/^restart: get 812 pre-keys \+ 256 sessions .*57.8x\s+>=20x ok$/m
      assert text =~ "disk: write+fsync of 4 KiB takes 317 µs (median)"
    end

    test "when every scenario is trusted there is no warning and the summary says so" do
      text = SignalStoreReport.render(trusted_results(), 317.0)

      refute text =~ "WARNING"
      assert text =~ ~r/^trust: all 3 scenarios trusted$/m
    end
  end

  describe "the results file" do
    defp json(results) do
      info = %{mode: :quick, machine: %{otp_version: "25"}, repeats: 3, scale: 8}
      SignalStoreReport.json(results, info)
    end

    test "every scenario has its name, key counts, medians, samples, ratios, target and verdict" do
      data = json(results())

      assert %{format: 1, mode: :quick, repeats: 3, scale: 8, trusted: false} = data
      assert data.trust_rules == Trust.rules()
      assert data.setups.nif_nif == "NIF store + NIF"

      [pairing, restart] = data.backends.etf

      assert pairing.scenario == :pairing
      assert pairing.name == "pairing: set of 812 pre-keys"
      assert pairing.keys == %{"pre-key": 812, session: 0}
      assert pairing.transactions == 0
      assert pairing.median_ms == %{twin_baseline: 2352.0, twin_nif: 1239.0, nif_nif: 266.0}
      assert pairing.samples_ms.nif_nif == [292.6, 266.0, 252.7]
      assert pairing.ratios == %{twin_nif: 1.898, nif_nif: 8.842}
      assert pairing.target == 30
      assert pairing.met == false
      assert pairing.verdict.trusted == false
      assert pairing.verdict.reasons == ["disk flush time moved: 500 µs -> 1.4 ms (2.8x)"]
      assert pairing.verdict.conditions.flush_us_after == 1400.0
      assert pairing.verdict.conditions.flush_ratio == 2.8
      assert Map.has_key?(pairing.verdict.conditions, :other_cpu_share)

      assert restart.met == true
      assert %{trusted: true, reasons: []} = restart.verdict
      assert [%{transactions: 200, met: false}] = data.backends.json
      assert json(trusted_results()).trusted == true
    end

    test "is written as JSON by the benchmark's encoder" do
      text = results() |> json() |> ResultsJSON.encode()

      assert String.starts_with?(text, "{")
      assert text =~ ~s("keys":{"pre-key":812,"session":0})
      assert text =~ ~s("nif_nif":[292.6,266.0,252.7])
      assert text =~ ~s|"reasons":["disk flush time moved: 500 µs -> 1.4 ms (2.8x)"]|
      assert text =~ ~s("met":false)
      assert text =~ ~s("scenario":"pairing")
    end
  end

  describe "the chart" do
    defp chart(results \\ results()), do: SignalStoreChart.render(results, "Signal store")

    test "is one SVG document with a panel per backend" do
      svg = chart()

      assert String.starts_with?(svg, ~s(<svg xmlns="http://www.w3.org/2000/svg"))
      assert String.ends_with?(svg, "</svg>\n")
      assert length(Regex.scan(~r/<svg /, svg)) == 1
      assert svg =~ ~r{<text [^>]*font-weight="bold"[^>]*>ETF</text>}
      assert svg =~ ~r{<text [^>]*font-weight="bold"[^>]*>JSON</text>}
      assert svg =~ "n = 3 runs per set-up and scenario"
    end

    test "has a marker with a tooltip per scenario and set-up" do
      svg = chart()

      tips =
        Regex.scan(~r{<title>([^<]*)</title>}, svg, capture: :all_but_first) |> List.flatten()

      for {backend, name} <- [
            {"ETF", "pairing: set of 812 pre-keys"},
            {"ETF", "restart: get 812 pre-keys + 256 sessions"},
            {"JSON", "200 receive transactions"}
          ],
          setup <- ["twin + NIF", "NIF store + NIF"] do
        assert Enum.count(tips, &String.starts_with?(&1, "#{backend} #{name}, #{setup}: ")) == 1
      end

      assert ("ETF pairing: set of 812 pre-keys, NIF store + NIF: 8.84x " <>
                "(median 2,352 / 266 ms, n = 3 / 3), target 30x MISSED; NOT TRUSTED") in tips

      assert "JSON 200 receive transactions, twin + NIF: 2.69x (median 417 / 155 ms, n = 3 / 3)" in tips

      # Both set-ups drawn in their own colour and shape: blue circles, vermillion squares.
      assert length(Regex.scan(~r/<circle [^>]*stroke="#0072B2"/, svg)) == 3 + 1
      assert length(Regex.scan(~r/<rect [^>]*stroke="#D55E00"/, svg)) == 3 + 1
    end

    test "draws each scenario's target and a log ratio axis in 1-2-5 steps" do
      svg = chart()

      for label <- ["target 30x", "target 20x", "target 4x"],
          do: assert(svg =~ ">#{label}</text>")

      for label <- ["1x", "2x", "5x", "10x", "20x", "50x"],
          do: assert(svg =~ ~r{text-anchor="end">#{label}</text>})

      assert length(Regex.scan(~r/stroke-dasharray="2 2"/, svg)) == 3 + 1
    end

    test "marks untrusted scenarios and prints their warnings at the bottom" do
      svg = chart()

      # One hatched slot and the legend's sample.
      assert length(Regex.scan(~r/fill="url\(#untrusted\)"/, svg)) == 1 + 1
      assert svg =~ ~s(<pattern id="untrusted")
      assert svg =~ ~r{font-weight="bold" fill="#A23B00">! pairing</text>}
      refute svg =~ "! restart"

      assert svg =~
               ~r{<text x="16\.0" [^>]*>etf: WARNING \(pairing: set of 812 pre-keys\): disk flush time moved: 500 µs -&gt; 1.4 ms \(2.8x\): ratios may be off</text>}

      trusted = chart(trusted_results())
      assert length(Regex.scan(~r/fill="url\(#untrusted\)"/, trusted)) == 1
      refute trusted =~ "WARNING"
      refute trusted =~ "! pairing"
    end
  end
end
