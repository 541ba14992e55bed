defmodule BaileysEx.Auth.NIF.Bench.ResultsJSON do
  @moduledoc """
  Writes the results as JSON, through the project's own plain-tree writer
  (the same bytes on every Elixir version), after turning the few kinds of
  terms the results hold into JSON's: map keys and atoms (but `nil` and
  booleans) become strings, tuples lists. Map keys come out sorted.
  """

  alias BaileysEx.Auth.NIF.Tools.JSON

  @doc "Encodes `term` as JSON text."
  @spec encode(term()) :: String.t()
  def encode(term), do: term |> plain() |> JSON.encode() |> IO.iodata_to_binary()

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
end
