defmodule BaileysEx.Auth.NIF.Tools.Report do
  @moduledoc false
  # The text the Mix tasks print for the tools' results.

  @spec verify(map()) :: String.t()
  def verify(report) do
    lines =
      for p <- Enum.sort_by(report.problems, &{severity_rank(&1.severity), &1.file}) do
        "  #{String.upcase(Atom.to_string(p.severity))} #{p.file}: #{p.message}"
      end

    counts = Enum.frequencies_by(report.problems, & &1.severity)

    summary =
      "#{report.dir} (#{report.backend}): #{report.files} files, #{report.keys} key files, " <>
        "#{Map.get(counts, :error, 0)} errors, #{Map.get(counts, :warning, 0)} warnings, " <>
        "#{Map.get(counts, :note, 0)} notes: #{status_text(report.status)}"

    Enum.join(lines ++ [summary], "\n")
  end

  defp severity_rank(:error), do: 0
  defp severity_rank(:warning), do: 1
  defp severity_rank(:note), do: 2

  defp status_text(:ok), do: "OK"
  defp status_text(:warnings), do: "OK with warnings"
  defp status_text(:damaged), do: "DAMAGED"

  @spec migrate(map()) :: String.t()
  def migrate(result) do
    header =
      "migrated #{result.source} (#{result.from}) to #{result.target} (#{result.to}): " <>
        "creds #{if result.creds?, do: "and ", else: "absent, "}#{result.keys} keys"

    per_type =
      for {type, count} <- Enum.sort(result.per_type) do
        "  #{type}: #{count} key(s) #{result.from} -> #{result.to}"
      end

    inexact =
      case result.inexact do
        [] ->
          ["every value loads back from #{result.to} exactly as it loaded from #{result.from}"]

        list ->
          ["#{length(list)} value(s) #{result.to} cannot hold exactly (they load back as shown):"] ++
            for {{what, path}, from, to} <- list do
              "  #{describe(what)} at #{inspect(path)}: #{inspect(from, limit: 8)} -> #{inspect(to, limit: 8)}"
            end
      end

    Enum.join([header | per_type] ++ inexact, "\n")
  end

  @spec baileys_js(:import | :export, map()) :: String.t()
  def baileys_js(direction, result) do
    header =
      case direction do
        :import ->
          "imported Baileys JS folder #{result.source} to #{result.target} (#{result.to})"

        :export ->
          "exported #{result.source} (#{result.from}) to Baileys JS folder #{result.target}" <>
            " for Baileys #{Map.get(result, :baileys, 6)}.x"
      end

    per_type = for {type, count} <- Enum.sort(result.per_type), do: "  #{type}: #{count} key(s)"

    absent =
      case Map.get(result, :absent, []) do
        [] -> []
        types -> ["  no file of: #{Enum.join(types, ", ")}"]
      end

    unmapped =
      case result.unmapped do
        [] ->
          ["every field found a place"]

        list ->
          ["#{length(list)} field(s) or file(s) not mapped:"] ++
            for %{file: file, field: field, why: why} <- list do
              "  #{file}#{if field, do: " " <> field, else: ""}: #{why}"
            end
      end

    inexact =
      case result.inexact do
        [] ->
          ["every value read back equal"]

        list ->
          ["#{length(list)} value(s) read back different:"] ++
            Enum.map(list, &"  #{describe(elem(&1, 0))}")
      end

    Enum.join(
      [header <> ": creds and #{result.keys} keys" | per_type] ++ absent ++ unmapped ++ inexact,
      "\n"
    )
  end

  defp describe(:creds), do: "creds"
  defp describe({type, id}), do: "#{type} #{inspect(id)}"

  @spec inspect_dir(map()) :: String.t()
  def inspect_dir(info) do
    types =
      for {type, %{count: count, bytes: bytes}} <- Enum.sort(info.types) do
        "  #{String.pad_trailing(to_string(type), 24)} #{String.pad_leading(to_string(count), 6)} files #{String.pad_leading(to_string(bytes), 10)} bytes"
      end

    files =
      for {label, entry} <- [oldest: info.oldest, newest: info.newest], entry != nil do
        {name, mtime} = entry
        "#{label}: #{name} (#{format_time(mtime)})"
      end

    creds =
      case info.creds do
        nil ->
          ["creds: none"]

        {:error, reason} ->
          ["creds: unreadable (#{inspect(reason)})"]

        summary ->
          ["creds: " <> Enum.map_join(summary, ", ", fn {k, v} -> "#{k}=#{inspect(v)}" end)]
      end

    Enum.join(["#{info.dir} (#{info.backend})" | types] ++ files ++ creds, "\n")
  end

  defp format_time(posix),
    do: posix |> DateTime.from_unix!() |> DateTime.to_iso8601()
end
