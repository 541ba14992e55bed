defmodule BaileysEx.Auth.NIF.Bench.SVGChart do
  @moduledoc """
  A dependency-free SVG chart of the scaling scenario: one column per
  operation (`save_keys`, `load_keys`, `list_persisted_keys`) against the
  number of keys already in the directory.

    * Top row: microseconds per call, log scale; a marker at the median, a
      whisker up to the p90, one line per implementation of each backend.
    * Bottom row: the ratio baseline/NIF of the medians, log scale with
      gridlines at 1x, 2x, 5x, 10x, ...; the target, where one is set.

  Colours are from the Okabe-Ito palette, told apart by people with any
  common colour-vision deficiency; marker shapes and dash patterns tell the
  lines apart in greyscale too (NIF circles, baseline squares, ratio
  diamonds; ETF solid and filled, JSON dashed and hollow). Every marker has
  a tooltip (`<title>`) with n, median and p90.
  """

  alias BaileysEx.Auth.NIF.Bench.{Report, Row, SVG}

  import SVG, only: [f: 1, line: 5, marker: 3, polyline: 2, text: 3, text: 4]

  @typedoc "A point of a cost line: median and p90 µs of n calls."
  @type cost_point :: %{
          keys: non_neg_integer(),
          median_us: float(),
          p90_us: float(),
          n: integer()
        }

  @typedoc "A point of a ratio line, with both medians and the target if set."
  @type ratio_point :: %{
          keys: non_neg_integer(),
          ratio: float(),
          baseline: map(),
          nif: map(),
          target: number() | nil
        }

  @typedoc "One line: a cost line per implementation, or a ratio line per backend."
  @type series :: %{
          kind: :cost | :ratio,
          backend: atom(),
          impl: :nif | :baseline | :ratio,
          label: String.t(),
          op: atom(),
          points: [cost_point()] | [ratio_point()]
        }

  @panels [
    save_keys: "save_keys (new key)",
    load_keys: "load_keys",
    list_persisted_keys: "list_persisted_keys"
  ]
  @panel_w 380
  @grey "#444444"
  @cost_h 250
  @ratio_h 180
  @margin %{left: 72, right: 20}
  @cost_top 84
  @ratio_top @cost_top + @cost_h + 52
  @legend_top @ratio_top + @ratio_h + 64

  # Okabe-Ito: NIF in blues, baselines in oranges, ratios in green and purple.
  @styles %{
    {:etf, :nif} => %{color: SVG.color(:blue), marker: :circle, filled: true, dash: nil},
    {:etf, :baseline} => %{
      color: SVG.color(:vermillion),
      marker: :square,
      filled: true,
      dash: nil
    },
    {:json, :nif} => %{color: SVG.color(:sky_blue), marker: :circle, filled: false, dash: "7 4"},
    {:json, :baseline} => %{
      color: SVG.color(:orange),
      marker: :square,
      filled: false,
      dash: "7 4"
    },
    {:etf, :ratio} => %{color: SVG.color(:green), marker: :diamond, filled: true, dash: nil},
    {:json, :ratio} => %{color: SVG.color(:purple), marker: :diamond, filled: false, dash: "7 4"}
  }
  @fallback_style %{color: SVG.color(:black), marker: :circle, filled: true, dash: "2 3"}
  # Series at one x are nudged apart so that whiskers do not hide each other.
  @dodge %{
    {:etf, :nif} => -6,
    {:etf, :baseline} => -2,
    {:json, :nif} => 2,
    {:json, :baseline} => 6,
    {:etf, :ratio} => -2,
    {:json, :ratio} => 2
  }

  @doc """
  Builds the series from the scaling rows of each backend:
  `[{backend, title, rows}]`.
  """
  @spec series([{atom(), String.t(), [Row.t()]}]) :: [series()]
  def series(backends) do
    Enum.flat_map(backends, fn {backend, title, rows} ->
      for {op, _} <- @panels,
          impl <- [:nif, :baseline, :ratio],
          points = points(rows, op, impl),
          points != [] do
        %{
          kind: if(impl == :ratio, do: :ratio, else: :cost),
          backend: backend,
          impl: impl,
          label: "#{title} #{label(impl)}",
          op: op,
          points: points
        }
      end
    end)
  end

  defp label(:nif), do: "NIF"
  defp label(:baseline), do: "baseline"
  defp label(:ratio), do: "baseline/NIF"

  defp points(rows, op, :ratio) do
    for %{section: :scaling, op: ^op, size: size, figures: figures} = row <- rows,
        ratio = Row.ratio(row),
        is_float(ratio) and ratio > 0 do
      %{
        keys: size,
        ratio: ratio,
        baseline: figures.baseline,
        nif: figures.nif,
        target: Map.get(row, :target)
      }
    end
  end

  defp points(rows, op, impl) do
    for %{section: :scaling, op: ^op, size: size, figures: figures} <- rows,
        %{median_us: median, p90_us: p90, n: n} <- [figures[impl]],
        median > 0,
        do: %{keys: size, median_us: median, p90_us: p90, n: n}
  end

  @doc """
  Renders the chart; `title` goes on top, each of `warnings` (lines of text)
  at the bottom in bold.
  """
  @spec render([series()], String.t(), [String.t()]) :: String.t()
  def render(series, title, warnings \\ []) do
    column_w = @panel_w + @margin.left + @margin.right
    width = length(@panels) * column_w
    warnings_top = @legend_top + 104
    {warning_lines, warnings_h} = SVG.warnings(warnings, warnings_top)
    height = warnings_top + warnings_h + 8

    columns =
      @panels
      |> Enum.with_index()
      |> Enum.map(fn {{op, name}, i} ->
        x0 = i * column_w + @margin.left
        column(Enum.filter(series, &(&1.op == op)), name, x0)
      end)

    SVG.document(width, height, title, [columns, legend(series, width), warning_lines])
  end

  defp column(series, name, x0) do
    {costs, ratios} = Enum.split_with(series, &(&1.kind == :cost))
    all = Enum.flat_map(series, & &1.points)

    if all == [] do
      text(x0 + @panel_w / 2, @cost_top + @cost_h / 2, "#{name}: no data", anchor: "middle")
    else
      keys = all |> Enum.map(& &1.keys) |> Enum.uniq() |> Enum.sort()
      max_x = keys |> Enum.max() |> max(1)
      sx = fn x -> x0 + 12 + x / max_x * (@panel_w - 24) end

      [
        text(x0 + @panel_w / 2, @cost_top - 30, name, anchor: "middle", size: 14, weight: "bold"),
        text(x0 + @panel_w / 2, @cost_top - 12, n_range(costs), anchor: "middle", fill: @grey),
        cost_panel(costs, keys, sx, x0),
        ratio_panel(ratios, keys, sx, x0),
        text(x0 + @panel_w / 2, @ratio_top + @ratio_h + 36, "keys already in the directory",
          anchor: "middle"
        )
      ]
    end
  end

  defp n_range(costs) do
    ns = for s <- costs, p <- s.points, do: p.n

    case Enum.min_max(ns, fn -> nil end) do
      nil -> ""
      {same, same} -> "n = #{same} calls per point"
      {lo, hi} -> "n = #{lo}-#{hi} calls per point"
    end
  end

  defp cost_panel([], _keys, _sx, x0),
    do: text(x0 + @panel_w / 2, @cost_top + @cost_h / 2, "no data", anchor: "middle")

  defp cost_panel(costs, keys, sx, x0) do
    values = Enum.flat_map(costs, fn s -> Enum.flat_map(s.points, &[&1.median_us, &1.p90_us]) end)
    {lo, hi} = decades(values)
    sy = SVG.log_scale(:math.pow(10, lo), :math.pow(10, hi), @cost_top, @cost_h)

    [
      for d <- lo..hi, m <- [1, 2, 5], d < hi or m == 1 do
        y = sy.(m * :math.pow(10, d))

        if m == 1 do
          [
            line(x0, y, x0 + @panel_w, y, "#bbbbbb"),
            text(x0 - 6, y + 4, fmt_decade(d), anchor: "end")
          ]
        else
          line(x0, y, x0 + @panel_w, y, "#eeeeee")
        end
      end,
      x_grid(keys, sx, @cost_top, @cost_h, false),
      frame(x0, @cost_top, @cost_h),
      Enum.map(costs, &cost_line(&1, sx, sy))
    ]
  end

  defp ratio_panel([], _keys, _sx, _x0), do: []

  defp ratio_panel(ratios, keys, sx, x0) do
    values = for s <- ratios, p <- s.points, v <- [p.ratio, p.target], is_number(v), do: v
    {ticks, sy} = SVG.ratio_axis(values, @ratio_top, @ratio_h)
    targets = for s <- ratios, p <- s.points, p.target != nil, uniq: true, do: {p.keys, p.target}

    [
      text(x0 + @panel_w / 2, @ratio_top - 10, "baseline / NIF (above 1x the NIF is faster)",
        anchor: "middle",
        fill: "#444444"
      ),
      SVG.ratio_grid(ticks, sy, x0, @panel_w),
      x_grid(keys, sx, @ratio_top, @ratio_h, true),
      frame(x0, @ratio_top, @ratio_h),
      Enum.map(targets, fn {keys_at, target} -> target_mark(sx.(keys_at), sy.(target), target) end),
      Enum.map(ratios, &ratio_line(&1, sx, sy))
    ]
  end

  defp x_grid(keys, sx, top, h, labels?) do
    for x <- keys do
      [
        line(sx.(x), top, sx.(x), top + h, "#f0f0f0"),
        if(labels?, do: text(sx.(x), top + h + 16, fmt_keys(x), anchor: "middle"), else: [])
      ]
    end
  end

  defp frame(x0, top, h), do: SVG.frame(x0, top, @panel_w, h)

  defp target_mark(x, y, target) do
    [
      SVG.target_line(x - 28, x + 8, y),
      text(x - 32, y + 4, "target #{SVG.fmt_ratio(target)}", anchor: "end", size: 11)
    ]
  end

  defp cost_line(s, sx, sy) do
    style = style(s)
    dx = Map.get(@dodge, {s.backend, s.impl}, 0)
    at = fn p -> {sx.(p.keys) + dx, sy.(p.median_us)} end

    [
      polyline(Enum.map(s.points, at), style),
      Enum.map(s.points, fn p ->
        {x, y} = at.(p)
        y90 = sy.(p.p90_us)

        tip =
          "#{s.label}, #{fmt_keys(p.keys)} keys: median #{Report.fmt_us(p.median_us)} µs, " <>
            "p90 #{Report.fmt_us(p.p90_us)} µs, n = #{p.n}"

        SVG.tooltip(tip, [
          ~s(<line x1="#{f(x)}" y1="#{f(y)}" x2="#{f(x)}" y2="#{f(y90)}" stroke="#{style.color}" ),
          ~s(stroke-width="1.5"/>\n),
          ~s(<line x1="#{f(x - 3)}" y1="#{f(y90)}" x2="#{f(x + 3)}" y2="#{f(y90)}" ),
          ~s(stroke="#{style.color}" stroke-width="1.5"/>\n),
          marker(x, y, style)
        ])
      end)
    ]
  end

  defp ratio_line(s, sx, sy) do
    style = style(s)
    dx = Map.get(@dodge, {s.backend, s.impl}, 0)
    at = fn p -> {sx.(p.keys) + dx, sy.(p.ratio)} end

    [
      polyline(Enum.map(s.points, at), style),
      Enum.map(s.points, fn p ->
        {x, y} = at.(p)

        tip =
          "#{s.label}, #{fmt_keys(p.keys)} keys: #{Report.fmt_ratio(p.ratio)} " <>
            "(median #{Report.fmt_us(p.baseline.median_us)} / #{Report.fmt_us(p.nif.median_us)} µs, " <>
            "p90 #{Report.fmt_us(p.baseline.p90_us)} / #{Report.fmt_us(p.nif.p90_us)} µs, " <>
            "n = #{p.baseline.n} / #{p.nif.n})" <>
            if(p.target, do: ", target #{SVG.fmt_ratio(p.target)}", else: "")

        SVG.tooltip(tip, marker(x, y, style))
      end)
    ]
  end

  defp legend(series, width) do
    entries =
      series
      |> Enum.sort_by(&{&1.kind == :ratio, &1.backend, &1.impl != :nif})
      |> Enum.map(&{&1.label, style(&1)})
      |> Enum.uniq()

    per_row = 4
    step = 250

    rows =
      entries
      |> Enum.chunk_every(per_row)
      |> Enum.with_index()
      |> Enum.map(fn {row, r} ->
        x_start = (width - length(row) * step) / 2
        y = @legend_top + 22 * r

        row
        |> Enum.with_index()
        |> Enum.map(fn {{label, style}, i} ->
          x = x_start + i * step

          [
            polyline([{x, y}, {x + 40, y}], style),
            marker(x + 20, y, style),
            text(x + 48, y + 4, label)
          ]
        end)
      end)

    below = @legend_top + 22 * div(length(entries) + per_row - 1, per_row) + 8

    [
      rows,
      text(
        width / 2,
        below,
        "Marker: median of n calls; whisker: up to the 90th percentile (p90). " <>
          "Hover a marker for n, median and p90.",
        anchor: "middle"
      ),
      text(
        width / 2,
        below + 18,
        "Top: µs per call, log scale. Bottom: baseline median / NIF median, log scale, " <>
          "gridlines at 1x, 2x, 5x, 10x, ...; dotted: target.",
        anchor: "middle"
      )
    ]
  end

  defp style(s), do: Map.get(@styles, {s.backend, s.impl}, @fallback_style)

  defp decades(values) do
    lo = values |> Enum.min() |> :math.log10() |> Float.floor() |> trunc()
    hi = values |> Enum.max() |> :math.log10() |> Float.ceil() |> trunc()
    if hi == lo, do: {lo, lo + 1}, else: {lo, hi}
  end

  defp fmt_decade(d) when d < 3, do: "#{round(:math.pow(10, d))} µs"
  defp fmt_decade(d) when d < 6, do: "#{round(:math.pow(10, d - 3))} ms"
  defp fmt_decade(d), do: "#{round(:math.pow(10, d - 6))} s"

  defp fmt_keys(n) when n >= 1000 and rem(n, 1000) == 0, do: "#{div(n, 1000)}k"
  defp fmt_keys(n), do: Integer.to_string(n)
end
