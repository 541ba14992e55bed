defmodule BaileysEx.Auth.NIF.Bench.SignalStoreChart do
  @moduledoc """
  The SVG chart of the Signal store section: a panel per backend, a slot
  per scenario, and in each slot the ratio of `twin + NIF` and of
  `NIF store + NIF` against `twin + baseline` (a marker on a stem from 1x),
  on a log axis with gridlines at 1x, 2x, 5x, 10x, ...; the scenario's
  target as a dotted line.

  `twin + NIF` is a hollow vermillion square on a dashed stem, `NIF store +
  NIF` a filled blue circle on a solid one (Okabe-Ito colours; the shapes,
  fills and dashes tell them apart in greyscale). Every marker has a
  tooltip with both medians, the ratio and n. A scenario that `Trust` did
  not trust is hatched and its name marked with "!"; the warnings are
  printed at the bottom.
  """

  alias BaileysEx.Auth.NIF.Bench.{Report, SignalStore, SignalStoreReport, SVG}

  import SVG, only: [f: 1, marker: 3, text: 3, text: 4]

  @slot_w 130
  @margin_left 72
  @margin_right 24
  @top 84
  @h 320
  @legend_top @top + @h + 70
  @offset %{twin_nif: -16, nif_nif: 16}
  @styles %{
    twin_nif: %{color: SVG.color(:vermillion), marker: :square, filled: false, dash: "5 3"},
    nif_nif: %{color: SVG.color(:blue), marker: :circle, filled: true, dash: nil}
  }
  @hatch "untrusted"

  @doc """
  Renders the chart of `results` (`%{backend => [row]}` of
  `BaileysEx.Auth.NIF.Bench.SignalStore.run/3`) under `title`.
  """
  @spec render(SignalStoreReport.results(), String.t()) :: String.t()
  def render(results, title) when is_map(results) do
    panels = Enum.sort(results)
    slots = panels |> Enum.map(fn {_, rows} -> length(rows) end) |> Enum.max(fn -> 0 end)
    panel_w = max(slots, 1) * @slot_w
    column_w = panel_w + @margin_left + @margin_right
    width = max(length(panels), 1) * column_w

    values =
      for {_, rows} <- panels,
          row <- rows,
          v <- [row.target | Enum.map(Map.keys(@styles), &SignalStore.ratio(row, &1))],
          is_number(v) and v > 0,
          do: v

    {ticks, sy} = SVG.ratio_axis(values, @top, @h)
    warnings_top = @legend_top + 70
    {warnings, warnings_h} = SVG.warnings(SignalStoreReport.warnings(results), warnings_top)

    body = [
      panels
      |> Enum.with_index()
      |> Enum.map(fn {{backend, rows}, i} ->
        panel(backend, rows, i * column_w + @margin_left, panel_w, ticks, sy)
      end),
      legend(width),
      warnings
    ]

    SVG.document(width, warnings_top + warnings_h + 8, title, body, hatch())
  end

  defp hatch do
    [
      ~s(<pattern id="#{@hatch}" width="8" height="8" patternUnits="userSpaceOnUse" ),
      ~s|patternTransform="rotate(45)">\n|,
      ~s(<rect width="8" height="8" fill="#FFF1E0"/>\n),
      ~s(<line x1="0" y1="0" x2="0" y2="8" stroke="#{SVG.warning_color()}" ),
      ~s(stroke-width="2" stroke-opacity="0.4"/>\n),
      "</pattern>\n"
    ]
  end

  defp panel(backend, [], x0, panel_w, _ticks, _sy),
    do: text(x0 + panel_w / 2, @top + @h / 2, "#{title(backend)}: no data", anchor: "middle")

  defp panel(backend, rows, x0, panel_w, ticks, sy) do
    mid = x0 + panel_w / 2
    heading = [anchor: "middle", size: 14, weight: "bold"]

    [
      text(mid, @top - 30, title(backend), heading),
      text(mid, @top - 12, repetitions(rows), anchor: "middle", fill: "#444444"),
      rows
      |> Enum.with_index()
      |> Enum.map(fn {row, i} -> untrusted_slot(row, x0 + i * @slot_w) end),
      SVG.ratio_grid(ticks, sy, x0, panel_w),
      SVG.frame(x0, @top, panel_w, @h),
      rows
      |> Enum.with_index()
      |> Enum.map(fn {row, i} -> slot(backend, row, x0 + i * @slot_w, sy) end)
    ]
  end

  defp repetitions(rows) do
    ns = for row <- rows, {_, list} <- row.samples, do: length(list)

    case Enum.min_max(ns, fn -> nil end) do
      nil -> ""
      {1, 1} -> "n = 1 run per set-up and scenario"
      {same, same} -> "n = #{same} runs per set-up and scenario"
      {lo, hi} -> "n = #{lo}-#{hi} runs per set-up and scenario"
    end
  end

  defp untrusted_slot(%{verdict: %{trusted: true}}, _x), do: []

  defp untrusted_slot(row, x) do
    SVG.tooltip(
      "not trusted: " <> Enum.join(row.verdict.reasons, "; "),
      ~s|<rect x="#{f(x)}" y="#{f(@top)}" width="#{@slot_w}" height="#{@h}" fill="url(##{@hatch})"/>\n|
    )
  end

  defp slot(backend, row, x, sy) do
    cx = x + @slot_w / 2
    trusted? = row.verdict.trusted

    [
      target(row.target, cx, sy),
      Enum.map(@styles, fn {setup, style} -> ratio_marker(backend, row, setup, style, cx, sy) end),
      text(cx, @top + @h + 18, if(trusted?, do: row.short, else: "! " <> row.short),
        anchor: "middle",
        weight: if(trusted?, do: nil, else: "bold"),
        fill: if(trusted?, do: nil, else: SVG.warning_color())
      ),
      text(cx, @top + @h + 34, counts(row), anchor: "middle", size: 11, fill: "#444444")
    ]
  end

  defp target(nil, _cx, _sy), do: []

  defp target(t, cx, sy) do
    y = sy.(t)

    [
      SVG.target_line(cx - 42, cx + 42, y),
      text(cx, y - 5, "target #{SVG.fmt_ratio(t)}", anchor: "middle", size: 10)
    ]
  end

  defp ratio_marker(backend, row, setup, style, cx, sy) do
    ratio = SignalStore.ratio(row, setup)
    mx = cx + Map.fetch!(@offset, setup)
    y = sy.(ratio)
    n = fn id -> length(Map.get(row.samples, id, [])) end

    tip =
      "#{title(backend)} #{row.name}, #{SignalStore.label(setup)}: #{Report.fmt_ratio(ratio)} " <>
        "(median #{Report.fmt_ms(row.ms.twin_baseline)} / #{Report.fmt_ms(row.ms[setup])} ms, " <>
        "n = #{n.(:twin_baseline)} / #{n.(setup)})" <>
        if(setup == :nif_nif and row.target, do: target_note(row), else: "") <>
        if(row.verdict.trusted, do: "", else: "; NOT TRUSTED")

    SVG.tooltip(tip, [
      ~s(<line x1="#{f(mx)}" y1="#{f(sy.(1.0))}" x2="#{f(mx)}" y2="#{f(y)}" ),
      ~s(stroke="#{style.color}" stroke-width="3"),
      if(style.dash, do: ~s( stroke-dasharray="#{style.dash}"), else: ""),
      "/>\n",
      marker(mx, y, style)
    ])
  end

  defp target_note(row) do
    ", target #{SVG.fmt_ratio(row.target)} " <>
      if(SignalStore.met?(row), do: "met", else: "MISSED")
  end

  defp counts(%{transactions: t}) when t > 0, do: "#{t} transactions"

  defp counts(%{keys: keys}) do
    case {keys[:"pre-key"], keys[:session]} do
      {p, 0} -> "#{p} pre-keys"
      {0, s} -> "#{s} sessions"
      {p, s} -> "#{p} + #{s} keys"
    end
  end

  defp legend(width) do
    step = 300
    entries = Enum.map(SignalStore.setups() -- [:twin_baseline], &{&1, @styles[&1]})
    x_start = (width - (length(entries) + 2) * step) / 2
    x_target = x_start + length(entries) * step
    x_hatch = x_target + step
    y = @legend_top

    [
      entries
      |> Enum.with_index()
      |> Enum.map(fn {{setup, style}, i} ->
        x = x_start + i * step

        [
          SVG.polyline([{x, y}, {x + 36, y}], style),
          marker(x + 36, y, style),
          text(x + 48, y + 4, "#{SignalStore.label(setup)} vs twin + baseline")
        ]
      end),
      SVG.target_line(x_target, x_target + 36, y),
      text(x_target + 48, y + 4, "target of NIF store + NIF"),
      ~s(<rect x="#{f(x_hatch)}" y="#{f(y - 8)}" width="36" height="16" ),
      ~s|fill="url(##{@hatch})" stroke="#888888"/>\n|,
      text(x_hatch + 48, y + 4, "! not trusted (see the warnings)"),
      text(
        width / 2,
        y + 32,
        "Ratio: twin + baseline median / the set-up's median (above 1x the set-up is faster), " <>
          "log scale, gridlines at 1x, 2x, 5x, 10x, ... Hover a marker for medians, ratio and n.",
        anchor: "middle"
      )
    ]
  end

  defp title(backend), do: backend |> to_string() |> String.upcase()
end
