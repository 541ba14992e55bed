defmodule BaileysEx.Auth.NIF.Bench.SVGTest do
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Bench.SVG

  test "ratio ticks run in 1-2-5 steps from at or below the lowest to at or above the highest" do
    assert SVG.ratio_ticks(1.0, 15.0) == [1.0, 2.0, 5.0, 10.0, 20.0]
    assert SVG.ratio_ticks(0.7, 4.0) == [0.5, 1.0, 2.0, 5.0]
    assert SVG.ratio_ticks(1.0, 1.0) == [1.0, 2.0]
    assert SVG.ratio_ticks(1.0, 100.0) == [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
  end

  test "colours come from the Okabe-Ito palette by name" do
    assert SVG.color(:blue) == "#0072B2"
    assert SVG.color(:vermillion) == "#D55E00"
    assert_raise FunctionClauseError, fn -> SVG.color(:red) end
  end

  test "a warning gets a bold line per reason, and its height" do
    {drawn, height} = SVG.warnings(["W (a): one <x>; two", "W (b): three"], 100)
    svg = IO.iodata_to_binary(drawn)

    assert height == 60

    assert svg =~
             ~r{<text x="16\.0" y="100\.0" [^>]*font-weight="bold"[^>]*>W \(a\): one &lt;x&gt;</text>}

    assert svg =~ ~r{<text x="40\.0" y="120\.0" [^>]*>two</text>}
    assert svg =~ ~r{<text x="16\.0" y="140\.0" [^>]*>W \(b\): three</text>}
  end
end
