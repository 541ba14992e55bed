defmodule BaileysEx.Auth.NIF.Bench.ResultsJSON do
  @moduledoc """
  Writes the results as JSON. Uses Elixir's `JSON` module when it exists
  (Elixir 1.18+), else a small encoder of its own for the few kinds of terms
  the results hold: maps, lists, strings, atoms, integers, floats, `nil` and
  booleans. Map keys are written as strings, sorted.
  """

  @compile {:no_warn_undefined, JSON}

  @doc "Encodes `term` as JSON text."
  @spec encode(term()) :: String.t()
  def encode(term) do
    term = plain(term)

    if Code.ensure_loaded?(JSON) and function_exported?(JSON, :encode!, 1) do
      JSON.encode!(term)
    else
      term |> value() |> IO.iodata_to_binary()
    end
  end

  @doc "Encodes `term` and writes it to `path` (with a trailing newline)."
  @spec write!(Path.t(), term()) :: :ok
  def write!(path, term) do
    File.mkdir_p!(Path.dirname(path))
    File.write!(path, [encode(term), "\n"])
  end

  @doc """
  `term` with every float, in maps and lists at any depth, rounded to three
  decimals: figures in µs or ms need no more.
  """
  @spec rounded(term()) :: term()
  def rounded(%{} = map) when not is_struct(map),
    do: Map.new(map, fn {k, v} -> {k, rounded(v)} end)

  def rounded(list) when is_list(list), do: Enum.map(list, &rounded/1)
  def rounded(x) when is_float(x), do: Float.round(x, 3)
  def rounded(other), do: other

  # Turns keys into strings, tuples into lists, atoms (but nil/booleans) into
  # strings, and floats that are whole into floats still (JSON keeps `1.0`).
  defp plain(%{} = map) when not is_struct(map),
    do: Map.new(map, fn {k, v} -> {key(k), plain(v)} end)

  defp plain(list) when is_list(list), do: Enum.map(list, &plain/1)
  defp plain(tuple) when is_tuple(tuple), do: tuple |> Tuple.to_list() |> plain()
  defp plain(atom) when is_atom(atom) and atom not in [nil, true, false], do: Atom.to_string(atom)
  defp plain(other) when is_binary(other) or is_number(other) or is_atom(other), do: other
  defp plain(other), do: inspect(other)

  defp key(k) when is_binary(k), do: k
  defp key(k) when is_atom(k), do: Atom.to_string(k)
  defp key(k), do: to_string(k)

  defp value(nil), do: "null"
  defp value(true), do: "true"
  defp value(false), do: "false"
  defp value(n) when is_integer(n), do: Integer.to_string(n)
  defp value(f) when is_float(f), do: Float.to_string(f)
  defp value(s) when is_binary(s), do: [?", escape(s), ?"]

  defp value(list) when is_list(list),
    do: [?[, list |> Enum.map(&value/1) |> Enum.intersperse(?,), ?]]

  defp value(%{} = map) do
    members =
      map
      |> Enum.sort_by(fn {k, _} -> k end)
      |> Enum.map(fn {k, v} -> [value(k), ?:, value(v)] end)
      |> Enum.intersperse(?,)

    [?{, members, ?}]
  end

  defp escape(s) do
    for <<c::utf8 <- s>>, into: "" do
      case c do
        ?" -> "\\\""
        ?\\ -> "\\\\"
        ?\n -> "\\n"
        ?\r -> "\\r"
        ?\t -> "\\t"
        c when c < 0x20 -> "\\u" <> String.pad_leading(Integer.to_string(c, 16), 4, "0")
        c -> <<c::utf8>>
      end
    end
  end
end
