defmodule BaileysEx.Auth.NIF.Tools.JSON do
  @moduledoc false
  # A strict JSON reader and writer of plain trees, for the Baileys JS
  # bridge and the benchmark's results. The NIF's JSON codecs read
  # BaileysEx's own dialect into terms; the bridge needs the plain tree (a
  # Buffer object and a base64 string must stay apart), and the project has
  # no JSON library (and Elixir's own JSON module only exists from 1.18). Objects decode to string-keyed
  # maps (a repeated key: the last wins, as JSON.parse does), nesting is
  # bounded, and nothing becomes an atom except true/false/nil.

  @max_depth 64

  @type t :: nil | boolean() | number() | String.t() | [t()] | %{String.t() => t()}

  @doc "Parses a whole JSON text; anything after the value is an error."
  @spec decode(binary()) :: {:ok, t()} | {:error, term()}
  def decode(bytes) when is_binary(bytes) do
    if String.valid?(bytes) do
      {value, rest} = value(skip(bytes), 0)

      case skip(rest) do
        "" -> {:ok, value}
        more -> {:error, {:invalid_json, {:trailing_data, byte_size(bytes) - byte_size(more)}}}
      end
    else
      {:error, {:invalid_json, :not_utf8}}
    end
  catch
    {__MODULE__, reason} -> {:error, {:invalid_json, reason}}
  end

  @doc "Writes a term of maps (string keys), lists, strings, numbers, booleans and nil."
  @spec encode(t()) :: iodata()
  def encode(nil), do: "null"
  def encode(true), do: "true"
  def encode(false), do: "false"
  def encode(n) when is_integer(n), do: Integer.to_string(n)
  def encode(f) when is_float(f), do: :erlang.float_to_binary(f, [:short])
  def encode(s) when is_binary(s), do: [?", escape(s), ?"]
  def encode(list) when is_list(list), do: [?[, Enum.map_intersperse(list, ?,, &encode/1), ?]]

  def encode(%{} = map) when not is_struct(map) do
    pairs =
      map
      |> Enum.sort_by(fn {k, _v} -> k end)
      |> Enum.map_intersperse(?,, fn {k, v} when is_binary(k) -> [encode(k), ?:, encode(v)] end)

    [?{, pairs, ?}]
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

  defp fail(reason), do: throw({__MODULE__, reason})

  defp skip(<<c, rest::binary>>) when c in ~c" \t\r\n", do: skip(rest)
  defp skip(rest), do: rest

  defp value(_bytes, depth) when depth > @max_depth, do: fail(:too_deep)
  defp value(<<?{, rest::binary>>, depth), do: object(skip(rest), depth + 1, %{})
  defp value(<<?[, rest::binary>>, depth), do: array(skip(rest), depth + 1, [])
  defp value(<<?", rest::binary>>, _depth), do: string(rest, [])
  defp value(<<"true", rest::binary>>, _depth), do: {true, rest}
  defp value(<<"false", rest::binary>>, _depth), do: {false, rest}
  defp value(<<"null", rest::binary>>, _depth), do: {nil, rest}
  defp value(<<c, _::binary>> = bytes, _depth) when c == ?- or c in ?0..?9, do: number(bytes)
  defp value("", _depth), do: fail(:unexpected_end)
  defp value(_bytes, _depth), do: fail(:unexpected_character)

  defp object(<<?}, rest::binary>>, _depth, acc) when acc == %{}, do: {acc, rest}

  defp object(<<?", rest::binary>>, depth, acc) do
    {key, rest} = string(rest, [])

    case skip(rest) do
      <<?:, rest::binary>> ->
        {val, rest} = value(skip(rest), depth)
        acc = Map.put(acc, key, val)

        case skip(rest) do
          <<?,, rest::binary>> -> object_key(skip(rest), depth, acc)
          <<?}, rest::binary>> -> {acc, rest}
          _ -> fail(:expected_comma_or_brace)
        end

      _ ->
        fail(:expected_colon)
    end
  end

  defp object(_bytes, _depth, _acc), do: fail(:expected_key)

  defp object_key(<<?", _::binary>> = bytes, depth, acc), do: object(bytes, depth, acc)
  defp object_key(_bytes, _depth, _acc), do: fail(:expected_key)

  defp array(<<?], rest::binary>>, _depth, []), do: {[], rest}

  defp array(bytes, depth, acc) do
    {val, rest} = value(bytes, depth)

    case skip(rest) do
      <<?,, rest::binary>> -> array(skip(rest), depth, [val | acc])
      <<?], rest::binary>> -> {Enum.reverse([val | acc]), rest}
      _ -> fail(:expected_comma_or_bracket)
    end
  end

  defp string(<<?", rest::binary>>, acc), do: {IO.iodata_to_binary(Enum.reverse(acc)), rest}
  defp string(<<?\\, ?u, hex::binary-size(4), rest::binary>>, acc), do: unicode(hex, rest, acc)

  defp string(<<?\\, c, rest::binary>>, acc) do
    char =
      case c do
        ?" -> ?"
        ?\\ -> ?\\
        ?/ -> ?/
        ?b -> ?\b
        ?f -> ?\f
        ?n -> ?\n
        ?r -> ?\r
        ?t -> ?\t
        _ -> fail(:invalid_escape)
      end

    string(rest, [char | acc])
  end

  defp string(<<c, _::binary>>, _acc) when c < 0x20, do: fail(:control_character_in_string)
  defp string(<<c::utf8, rest::binary>>, acc), do: string(rest, [<<c::utf8>> | acc])
  defp string(_bytes, _acc), do: fail(:unterminated_string)

  defp unicode(hex, rest, acc) do
    case {hex_value(hex), rest} do
      {high, <<?\\, ?u, low_hex::binary-size(4), rest2::binary>>} when high in 0xD800..0xDBFF ->
        low = hex_value(low_hex)

        if low in 0xDC00..0xDFFF,
          do: string(rest2, [<<0x10000 + (high - 0xD800) * 0x400 + (low - 0xDC00)::utf8>> | acc]),
          else: fail(:invalid_surrogate)

      {code, _} when code in 0xD800..0xDFFF ->
        fail(:invalid_surrogate)

      {code, _} ->
        string(rest, [<<code::utf8>> | acc])
    end
  end

  defp hex_value(hex) do
    case Integer.parse(hex, 16) do
      {n, ""} -> n
      _ -> fail(:invalid_unicode_escape)
    end
  end

  @number ~r/\A-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/

  defp number(bytes) do
    case Regex.run(@number, bytes, return: :index) do
      [{0, len} | parts] ->
        <<text::binary-size(len), rest::binary>> = bytes
        {to_number(text, parts != []), rest}

      _ ->
        fail(:invalid_number)
    end
  end

  defp to_number(text, false), do: String.to_integer(text)

  defp to_number(text, true) do
    case Float.parse(text) do
      {f, ""} -> f
      _ -> fail(:invalid_number)
    end
  rescue
    ArgumentError -> fail(:number_out_of_range)
  end
end
