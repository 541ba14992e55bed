defmodule BaileysEx.Auth.NIF.Bench.SVG do
  @moduledoc """
  What the benchmark's charts share, written without dependencies: the
  Okabe-Ito palette (told apart by people with any common colour-vision
  deficiency), markers whose shapes and fills tell series apart in
  greyscale too, log axes with a ratio axis in 1-2-5 steps, the dotted
  target line, tooltips, and the warnings printed at the bottom.
  """

  @palette %{
    orange: "#E69F00",
    sky_blue: "#56B4E9",
    green: "#009E73",
    yellow: "#F0E442",
    blue: "#0072B2",
    vermillion: "#D55E00",
    purple: "#CC79A7",
    black: "#000000"
  }

  @warning_fill "#A23B00"

  @typedoc "How a series is drawn: colour, marker shape, filled or hollow, dash pattern."
  @type style :: %{
          color: String.t(),
          marker: :circle | :square | :diamond | :triangle,
          filled: boolean(),
          dash: String.t() | nil
        }

  @doc "An Okabe-Ito colour by name (`:blue`, `:vermillion`, `:green`, ...)."
  @spec color(atom()) :: String.t()
  def color(name) when is_map_key(@palette, name), do: Map.fetch!(@palette, name)

  @doc "The colour of warning text and of the marks of untrusted figures."
  @spec warning_color() :: String.t()
  def warning_color, do: @warning_fill

  @doc """
  A whole SVG document `width` by `height` on white, `title` on top;
  `defs` go into `<defs>` (patterns), `body` follows.
  """
  @spec document(number(), number(), String.t(), iodata(), iodata()) :: String.t()
  def document(width, height, title, body, defs \\ []) do
    [
      ~s(<svg xmlns="http://www.w3.org/2000/svg" width="#{width}" height="#{height}" ),
      ~s(viewBox="0 0 #{width} #{height}" font-family="sans-serif" font-size="12">\n),
      if(defs == [], do: [], else: ["<defs>\n", defs, "</defs>\n"]),
      ~s(<rect width="100%" height="100%" fill="white"/>\n),
      text(width / 2, 26, title, anchor: "middle", size: 16, weight: "bold"),
      body,
      "</svg>\n"
    ]
    |> IO.iodata_to_binary()
  end

  @doc "Maps a value in `[lo, hi]` to y on a log axis of height `h` from `top`."
  @spec log_scale(number(), number(), number(), number()) :: (number() -> float())
  def log_scale(lo, hi, top, h) do
    span = :math.log10(hi) - :math.log10(lo)
    fn v -> top + h - (:math.log10(v) - :math.log10(lo)) / span * h end
  end

  @doc """
  Ticks of a ratio axis in 1-2-5 steps (..., 0.5, 1, 2, 5, 10, ...), from
  the largest step at or below `lo` to the smallest at or above `hi`.
  """
  @spec ratio_ticks(number(), number()) :: [float()]
  def ratio_ticks(lo, hi) when lo > 0 and hi >= lo do
    first = lo |> :math.log10() |> Float.floor() |> trunc()
    last = hi |> :math.log10() |> Float.ceil() |> trunc()
    steps = for d <- first..last, m <- [1, 2, 5], do: m * :math.pow(10, d)
    below = steps |> Enum.filter(&(&1 <= lo * 1.000001)) |> List.last()
    # At least two ticks, so that the axis has a span.
    above = Enum.find(steps, &(&1 >= hi / 1.000001 and &1 > below))
    Enum.filter(steps, &(&1 >= below and &1 <= above))
  end

  @doc """
  The ratio axis of `values` (1x always shown) from `top`, `h` high: its
  ticks and the y of a ratio.
  """
  @spec ratio_axis([number()], number(), number()) :: {[float()], (number() -> float())}
  def ratio_axis(values, top, h) do
    ticks = ratio_ticks(Enum.min([1.0 | values]), Enum.max([1.0 | values]))
    {ticks, log_scale(List.first(ticks), List.last(ticks), top, h)}
  end

  @doc """
  Gridlines of a ratio axis across `[x0, x0 + w]`, 1x darker, labelled on
  the left.
  """
  @spec ratio_grid([float()], (number() -> float()), number(), number()) :: iodata()
  def ratio_grid(ticks, sy, x0, w) do
    h = sy.(List.first(ticks)) - sy.(List.last(ticks))
    decade_px = h / :math.log10(List.last(ticks) / List.first(ticks))

    Enum.map(ticks, fn tick ->
      y = sy.(tick)
      color = if tick == 1, do: "#555555", else: "#cccccc"

      [
        line(x0, y, x0 + w, y, color),
        if(labelled?(tick, decade_px),
          do: text(x0 - 6, y + 4, fmt_ratio(tick), anchor: "end"),
          else: []
        )
      ]
    end)
  end

  # On a crowded axis only powers of ten keep a label, and 2x and 5x, the
  # lower targets.
  defp labelled?(_tick, decade_px) when decade_px >= 60, do: true

  defp labelled?(tick, _decade_px) do
    exponent = :math.log10(tick)
    abs(exponent - round(exponent)) < 1.0e-9 or tick in [2.0, 5.0]
  end

  @doc "A ratio as an axis or target label: `5x`, `0.5x`."
  @spec fmt_ratio(number()) :: String.t()
  def fmt_ratio(r) when r >= 1, do: "#{round(r)}x"
  def fmt_ratio(r), do: "#{Float.round(r / 1, 2)}x"

  @doc "The dotted line of a target from `x1` to `x2` at `y`."
  @spec target_line(number(), number(), number()) :: iodata()
  def target_line(x1, x2, y) do
    [
      ~s(<line x1="#{f(x1)}" y1="#{f(y)}" x2="#{f(x2)}" y2="#{f(y)}" stroke="#000000" ),
      ~s(stroke-width="2" stroke-dasharray="2 2"/>\n)
    ]
  end

  @doc "A panel's frame."
  @spec frame(number(), number(), number(), number()) :: iodata()
  def frame(x0, top, w, h),
    do:
      ~s(<rect x="#{f(x0)}" y="#{f(top)}" width="#{f(w)}" height="#{f(h)}" fill="none" stroke="#888888"/>\n)

  @doc "A marker of `style` centred on `(x, y)`."
  @spec marker(number(), number(), style()) :: iodata()
  def marker(x, y, style) do
    fill = if style.filled, do: style.color, else: "white"
    paint = ~s(fill="#{fill}" stroke="#{style.color}" stroke-width="1.5")

    case style.marker do
      :circle ->
        ~s(<circle cx="#{f(x)}" cy="#{f(y)}" r="4" #{paint}/>\n)

      :square ->
        ~s(<rect x="#{f(x - 3.5)}" y="#{f(y - 3.5)}" width="7" height="7" #{paint}/>\n)

      :diamond ->
        ~s(<polygon points="#{f(x)},#{f(y - 5)} #{f(x + 5)},#{f(y)} #{f(x)},#{f(y + 5)} ) <>
          ~s(#{f(x - 5)},#{f(y)}" #{paint}/>\n)

      :triangle ->
        ~s(<polygon points="#{f(x)},#{f(y - 5)} #{f(x + 5)},#{f(y + 4)} ) <>
          ~s(#{f(x - 5)},#{f(y + 4)}" #{paint}/>\n)
    end
  end

  @doc "A line through `coords` in the colour and dash pattern of `style`."
  @spec polyline([{number(), number()}], style()) :: iodata()
  def polyline(coords, style) do
    [
      ~s(<polyline points="),
      Enum.map_join(coords, " ", fn {x, y} -> "#{f(x)},#{f(y)}" end),
      ~s(" fill="none" stroke="#{style.color}" stroke-width="2"),
      dash(style),
      "/>\n"
    ]
  end

  defp dash(%{dash: nil}), do: ""
  defp dash(%{dash: pattern}), do: ~s( stroke-dasharray="#{pattern}")

  @doc "`content` in a group whose tooltip is `tip`."
  @spec tooltip(String.t(), iodata()) :: iodata()
  def tooltip(tip, content), do: ["<g><title>", escape(tip), "</title>\n", content, "</g>\n"]

  @doc """
  The warnings printed in bold from `top`, a line per reason (a warning's
  reasons are joined by `"; "`); returns them and the height they take.
  """
  @spec warnings([String.t()], number()) :: {iodata(), number()}
  def warnings(warnings, top) do
    lines =
      Enum.flat_map(warnings, fn warning ->
        [first | rest] = String.split(warning, "; ")
        [{16, first} | Enum.map(rest, &{40, &1})]
      end)

    drawn =
      lines
      |> Enum.with_index()
      |> Enum.map(fn {{x, line}, i} ->
        text(x, top + 20 * i, line, weight: "bold", fill: @warning_fill)
      end)

    {drawn, 20 * length(lines)}
  end

  @doc "A line from `(x1, y1)` to `(x2, y2)`."
  @spec line(number(), number(), number(), number(), String.t()) :: iodata()
  def line(x1, y1, x2, y2, color),
    do: ~s(<line x1="#{f(x1)}" y1="#{f(y1)}" x2="#{f(x2)}" y2="#{f(y2)}" stroke="#{color}"/>\n)

  @doc "Text at `(x, y)`; options `anchor`, `size`, `weight`, `fill`."
  @spec text(number(), number(), String.t(), keyword()) :: iodata()
  def text(x, y, content, opts \\ []) do
    anchor = Keyword.get(opts, :anchor, "start")
    size = Keyword.get(opts, :size)
    weight = Keyword.get(opts, :weight)
    fill = Keyword.get(opts, :fill)

    [
      ~s(<text x="#{f(x)}" y="#{f(y)}" text-anchor="#{anchor}"),
      if(size, do: ~s( font-size="#{size}"), else: ""),
      if(weight, do: ~s( font-weight="#{weight}"), else: ""),
      if(fill, do: ~s( fill="#{fill}"), else: ""),
      ">",
      escape(content),
      "</text>\n"
    ]
  end

  @doc "Escapes text for SVG."
  @spec escape(String.t()) :: String.t()
  def escape(text) do
    text
    |> String.replace("&", "&amp;")
    |> String.replace("<", "&lt;")
    |> String.replace(">", "&gt;")
  end

  @doc "A coordinate with one decimal."
  @spec f(number()) :: String.t()
  def f(n), do: :erlang.float_to_binary(n / 1, decimals: 1)
end
