defmodule BaileysEx.Auth.NIF.Bench.SVGChart do
  @moduledoc """
  A dependency-free SVG line chart of the scaling scenario: one panel per
  operation (`save_keys`, `load_keys`, `list_persisted_keys`), microseconds
  per call (median, log scale) against the number of keys already in the
  directory, one line per implementation of each backend.

  Colour tells the implementation (NIF or baseline), the stroke tells the
  backend (ETF solid, JSON dashed).
  """

  alias BaileysEx.Auth.NIF.Bench.Row

  @typedoc "One line: backend, implementation, operation and `{keys, µs}` points."
  @type series :: %{
          backend: atom(),
          impl: atom(),
          label: String.t(),
          op: atom(),
          points: [{non_neg_integer(), float()}]
        }

  @panels [
    save_keys: "save_keys (new key)",
    load_keys: "load_keys",
    list_persisted_keys: "list_persisted_keys"
  ]
  @panel_w 380
  @panel_h 300
  @margin %{left: 64, right: 16, top: 60, bottom: 44}
  @legend_h 56
  @colors %{nif: "#1b7f3b", baseline: "#c0392b"}
  @dashes %{etf: nil, json: "7 4"}

  @doc """
  Builds the series from the scaling rows of each backend:
  `[{backend, title, rows}]`.
  """
  @spec series([{atom(), String.t(), [Row.t()]}]) :: [series()]
  def series(backends) do
    for {backend, title, rows} <- backends,
        {op, _} <- @panels,
        impl <- [:nif, :baseline],
        points = points(rows, op, impl),
        points != [] do
      label = "#{title} #{if impl == :nif, do: "NIF", else: "baseline"}"
      %{backend: backend, impl: impl, label: label, op: op, points: points}
    end
  end

  defp points(rows, op, impl) do
    for %{section: :scaling, op: ^op, size: size, figures: figures} <- rows,
        %{median_us: us} <- [figures[impl]],
        us > 0,
        do: {size, us}
  end

  @doc "Renders the chart; `title` goes on top."
  @spec render([series()], String.t()) :: String.t()
  def render(series, title) do
    width = length(@panels) * (@panel_w + @margin.left + @margin.right)
    height = @margin.top + @panel_h + @margin.bottom + @legend_h

    panels =
      @panels
      |> Enum.with_index()
      |> Enum.map(fn {{op, name}, i} ->
        x0 = i * (@panel_w + @margin.left + @margin.right) + @margin.left
        panel(Enum.filter(series, &(&1.op == op)), name, x0, @margin.top)
      end)

    [
      ~s(<svg xmlns="http://www.w3.org/2000/svg" width="#{width}" height="#{height}" ),
      ~s(viewBox="0 0 #{width} #{height}" font-family="sans-serif" font-size="12">\n),
      ~s(<rect width="100%" height="100%" fill="white"/>\n),
      text(width / 2, 22, title, anchor: "middle", size: 15, weight: "bold"),
      panels,
      legend(series, @margin.top + @panel_h + @margin.bottom, width),
      "</svg>\n"
    ]
    |> IO.iodata_to_binary()
  end

  defp panel(series, name, x0, y0) do
    all = Enum.flat_map(series, & &1.points)

    if all == [] do
      text(x0 + @panel_w / 2, y0 + @panel_h / 2, "#{name}: no data", anchor: "middle")
    else
      max_x = all |> Enum.map(&elem(&1, 0)) |> Enum.max() |> max(1)
      {lo, hi} = decades(Enum.map(all, &elem(&1, 1)))
      sx = fn x -> x0 + x / max_x * @panel_w end
      sy = fn us -> y0 + @panel_h - (:math.log10(us) - lo) / (hi - lo) * @panel_h end
      x_ticks = all |> Enum.map(&elem(&1, 0)) |> Enum.uniq() |> Enum.sort()

      [
        text(x0 + @panel_w / 2, y0 - 12, name, anchor: "middle", size: 13, weight: "bold"),
        for d <- lo..hi do
          y = sy.(:math.pow(10, d))

          [
            line(x0, y, x0 + @panel_w, y, "#dddddd"),
            text(x0 - 6, y + 4, fmt_decade(d), anchor: "end")
          ]
        end,
        for x <- x_ticks do
          [
            line(sx.(x), y0, sx.(x), y0 + @panel_h, "#eeeeee"),
            text(sx.(x), y0 + @panel_h + 16, fmt_keys(x), anchor: "middle")
          ]
        end,
        ~s(<rect x="#{f(x0)}" y="#{f(y0)}" width="#{@panel_w}" height="#{@panel_h}" ),
        ~s(fill="none" stroke="#888888"/>\n),
        text(x0 + @panel_w / 2, y0 + @panel_h + 34, "keys already in the directory",
          anchor: "middle"
        ),
        Enum.map(series, fn s -> polyline(s, sx, sy) end)
      ]
    end
  end

  defp polyline(s, sx, sy) do
    coords = Enum.map_join(s.points, " ", fn {x, us} -> "#{f(sx.(x))},#{f(sy.(us))}" end)
    color = @colors[s.impl]

    [
      ~s(<polyline points="#{coords}" fill="none" stroke="#{color}" stroke-width="2"),
      dash(s.backend),
      "/>\n",
      Enum.map(s.points, fn {x, us} ->
        ~s(<circle cx="#{f(sx.(x))}" cy="#{f(sy.(us))}" r="3" fill="#{color}"/>\n)
      end)
    ]
  end

  defp legend(series, y, width) do
    entries = series |> Enum.map(&{&1.label, &1.backend, &1.impl}) |> Enum.uniq()
    step = 190
    x_start = max(16, (width - length(entries) * step) / 2)

    [
      entries
      |> Enum.with_index()
      |> Enum.map(fn {{label, backend, impl}, i} ->
        x = x_start + i * step

        [
          ~s(<line x1="#{f(x)}" y1="#{f(y + 10)}" x2="#{f(x + 36)}" y2="#{f(y + 10)}" ),
          ~s(stroke="#{@colors[impl]}" stroke-width="2"),
          dash(backend),
          "/>\n",
          text(x + 44, y + 14, label)
        ]
      end),
      text(width / 2, y + 40, "median µs per call, log scale", anchor: "middle")
    ]
  end

  defp dash(backend) do
    case @dashes[backend] do
      nil -> ""
      pattern -> ~s( stroke-dasharray="#{pattern}")
    end
  end

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

  defp line(x1, y1, x2, y2, color),
    do: ~s(<line x1="#{f(x1)}" y1="#{f(y1)}" x2="#{f(x2)}" y2="#{f(y2)}" stroke="#{color}"/>\n)

  defp text(x, y, content, opts \\ []) do
    anchor = Keyword.get(opts, :anchor, "start")
    size = Keyword.get(opts, :size)
    weight = Keyword.get(opts, :weight)

    [
      ~s(<text x="#{f(x)}" y="#{f(y)}" text-anchor="#{anchor}"),
      if(size, do: ~s( font-size="#{size}"), else: ""),
      if(weight, do: ~s( font-weight="#{weight}"), else: ""),
      ">",
      escape(content),
      "</text>\n"
    ]
  end

  defp escape(text) do
    text
    |> String.replace("&", "&amp;")
    |> String.replace("<", "&lt;")
    |> String.replace(">", "&gt;")
  end

  defp f(n), do: :erlang.float_to_binary(n / 1, decimals: 1)
end
