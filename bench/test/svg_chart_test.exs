defmodule BaileysEx.Auth.NIF.Bench.SVGChartTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Bench.{Row, SVGChart}

  defp scaling_row(op, size, baseline, nif, target \\ nil) do
    Row.per_op(:scaling, "#{op} @ #{size} keys", %{baseline: baseline, nif: nif},
      op: op,
      size: size,
      target: target
    )
  end

  defp chart(warnings \\ []) do
    rows = [
      scaling_row(:save_keys, 0, [2_000.0, 2_100.0, 2_600.0], [1_000.0, 1_100.0, 1_300.0]),
      scaling_row(
        :save_keys,
        1_000,
        [9_000.0, 9_500.0, 12_000.0],
        [1_200.0, 1_250.0, 1_400.0],
        5.0
      ),
      scaling_row(:load_keys, 0, [300.0, 310.0], [40.0, 90.0]),
      %{kind: :per_op, section: :single, name: "save_keys pre-key", figures: %{}}
    ]

    [{:etf, "ETF", rows}] |> SVGChart.series() |> SVGChart.render("title", warnings)
  end

  test "cost and ratio series come from the scaling rows only" do
    series = SVGChart.series([{:etf, "ETF", [scaling_row(:load_keys, 0, [4.0], [2.0])]}])

    assert Enum.map(series, &{&1.kind, &1.impl, &1.label}) == [
             {:cost, :nif, "ETF NIF"},
             {:cost, :baseline, "ETF baseline"},
             {:ratio, :ratio, "ETF baseline/NIF"}
           ]

    assert [%{points: [%{keys: 0, ratio: 2.0}]}] = Enum.filter(series, &(&1.kind == :ratio))
  end

  test "every marker's tooltip gives n, median and p90" do
    svg = chart()

    assert svg =~ "<title>ETF NIF, 1k keys: median 1,250 µs, p90 1,400 µs, n = 3</title>"
    assert svg =~ "<title>ETF baseline, 0 keys: median 2,100 µs, p90 2,600 µs, n = 3</title>"

    assert svg =~
             ~r{<title>ETF baseline/NIF, 1k keys: 7\.60x \(median 9,500 / 1,250 µs, p90 12,000 / 1,400 µs, n = 3 / 3\), target 5x</title>}

    assert svg =~ "n = 3 calls per point"
    assert svg =~ "n = 2 calls per point"
    assert svg =~ "whisker: up to the 90th percentile (p90)"
  end

  test "the ratio axis has labelled gridlines at 1x, 2x and 5x, and the target is drawn" do
    svg = chart()

    for label <- ["1x", "2x", "5x", "10x"],
        do: assert(svg =~ ~r{text-anchor="end">#{label}</text>})

    assert svg =~ ">target 5x</text>"
  end

  test "colours are Okabe-Ito, never the old red and green" do
    svg = chart()

    for colour <- ["#0072B2", "#D55E00", "#009E73"], do: assert(svg =~ colour)
    refute svg =~ "#1b7f3b"
    refute svg =~ "#c0392b"
  end

  test "warnings are printed at the bottom, escaped, a line per reason" do
    svg = chart(["ETF: WARNING (scaling): load 3 -> 4 <busy>; flush moved: ratios may be off"])

    assert svg =~
             ~r{<text x="16\.0" [^>]*>ETF: WARNING \(scaling\): load 3 -&gt; 4 &lt;busy&gt;</text>}

    assert svg =~ ~r{<text x="40\.0" [^>]*>flush moved: ratios may be off</text>}
  end
end
