defmodule BaileysEx.Auth.NIF.Baseline.JSONCodec do
  @moduledoc """
  JSON text <-> term conversion for the pure-Elixir JSON baseline.

  On Elixir 1.18+ this delegates to Elixir's own `JSON` module, which is what
  the original backend calls. On older Elixir versions (no `JSON` module) it
  uses a small built-in encoder/decoder with the same observable results:

  - decoding: objects become string-keyed maps (for a repeated key the first
    occurrence wins), arrays lists, numbers integers unless they carry a
    fraction or exponent (then floats), `null`/`true`/`false` become
    `nil`/`true`/`false`; errors are `{:error, {:unexpected_end, offset}}`,
    `{:error, {:invalid_byte, offset, byte}}` or
    `{:error, {:unexpected_sequence, offset, bytes}}`;
  - encoding: maps (atom, string or other `to_string`-able keys), lists,
    strings (only `"`, `\\` and control characters are escaped; invalid UTF-8
    is an error), integers, floats (shortest round-trip form), `nil`, booleans
    and other atoms (as strings); any other term raises (not an
    `ArgumentError`, like Elixir's `Protocol.UndefinedError`).
  """

  @doc """
  Encodes `term` as JSON text; raises on terms JSON cannot represent.
  """
  @spec encode!(term()) :: binary()
  def encode!(term), do: do_encode!(term)

  @doc """
  Decodes JSON `text` into a term.
  """
  @spec decode(binary()) :: {:ok, term()} | {:error, term()}
  def decode(text) when is_binary(text), do: do_decode(text)

  if Code.ensure_loaded?(JSON) do
    defp do_encode!(term), do: JSON.encode!(term)
    defp do_decode(text), do: JSON.decode(text)
  else
    defmodule EncodeError do
      @moduledoc """
      Raised for a term JSON cannot represent (where Elixir's `JSON` raises
      `Protocol.UndefinedError`). Deliberately not an `ArgumentError`, so the
      baseline backends let it through exactly as the originals do.
      """
      defexception [:value]

      @impl true
      def message(%{value: value}), do: "JSON cannot encode #{inspect(value)}"
    end

    defp do_encode!(term), do: term |> value() |> IO.iodata_to_binary()

    defp do_decode(text) do
      {term, rest} = text |> skip_ws() |> parse_value()

      case skip_ws(rest) do
        <<>> -> {:ok, term}
        trailing -> invalid_at(trailing)
      end
    catch
      {__MODULE__, :unexpected_end} ->
        {:error, {:unexpected_end, byte_size(text)}}

      {__MODULE__, :invalid, rest} ->
        <<byte, _::binary>> = rest
        {:error, {:invalid_byte, byte_size(text) - byte_size(rest), byte}}

      {__MODULE__, :sequence, rest, bytes} ->
        {:error, {:unexpected_sequence, byte_size(text) - byte_size(rest), bytes}}
    end

    # --- encoding -----------------------------------------------------------

    defp value(nil), do: "null"
    defp value(true), do: "true"
    defp value(false), do: "false"
    defp value(atom) when is_atom(atom), do: string(Atom.to_string(atom))
    defp value(bin) when is_binary(bin), do: string(bin)
    defp value(int) when is_integer(int), do: Integer.to_string(int)
    defp value(float) when is_float(float), do: :erlang.float_to_binary(float, [:short])
    defp value([]), do: "[]"
    defp value([head | tail]), do: [?[, value(head) | array_tail(tail)]

    defp value(map) when is_map(map) and not is_struct(map) do
      case Map.to_list(map) do
        [] ->
          "{}"

        [{key, val} | more] ->
          [?{, string(key_text(key)), ?:, value(val) | object_tail(more)]
      end
    end

    defp value(other), do: raise(__MODULE__.EncodeError, value: other)

    defp array_tail([]), do: [?]]
    defp array_tail([head | tail]), do: [?,, value(head) | array_tail(tail)]

    defp object_tail([]), do: [?}]

    defp object_tail([{key, val} | more]),
      do: [?,, string(key_text(key)), ?:, value(val) | object_tail(more)]

    defp key_text(key) when is_binary(key), do: key
    defp key_text(key) when is_atom(key), do: Atom.to_string(key)
    defp key_text(key), do: String.Chars.to_string(key)

    defp string(bin), do: [?", escape(bin, bin, 0, 0, []), ?"]

    # `start` and `len` delimit the current run of bytes that need no escaping.
    defp escape(<<c, rest::binary>>, orig, start, len, acc)
         when c >= 0x20 and c < 0x80 and c != ?" and c != ?\\,
         do: escape(rest, orig, start, len + 1, acc)

    defp escape(<<c, rest::binary>>, orig, start, len, acc) when c < 0x20 or c == ?" or c == ?\\,
      do: escape(rest, orig, start + len + 1, 0, [acc, binary_part(orig, start, len), esc(c)])

    defp escape(<<cp::utf8, rest::binary>>, orig, start, len, acc),
      do: escape(rest, orig, start, len + utf8_size(cp), acc)

    defp escape(<<>>, orig, start, len, acc), do: [acc, binary_part(orig, start, len)]

    defp escape(<<byte, _::binary>>, orig, _start, _len, _acc),
      do: :erlang.error({:invalid_byte, byte, orig})

    defp utf8_size(cp) when cp < 0x800, do: 2
    defp utf8_size(cp) when cp < 0x10000, do: 3
    defp utf8_size(_cp), do: 4

    defp esc(?"), do: "\\\""
    defp esc(?\\), do: "\\\\"
    defp esc(?\n), do: "\\n"
    defp esc(?\r), do: "\\r"
    defp esc(?\t), do: "\\t"
    defp esc(?\b), do: "\\b"
    defp esc(?\f), do: "\\f"

    defp esc(c) do
      hex = c |> Integer.to_string(16) |> String.pad_leading(4, "0")
      ["\\u", hex]
    end

    # --- decoding -----------------------------------------------------------

    defp skip_ws(<<c, rest::binary>>) when c in [?\s, ?\t, ?\n, ?\r], do: skip_ws(rest)
    defp skip_ws(bin), do: bin

    defp parse_value(<<?{, rest::binary>>), do: rest |> skip_ws() |> object_first()
    defp parse_value(<<?[, rest::binary>>), do: rest |> skip_ws() |> array_first()
    defp parse_value(<<?", rest::binary>>), do: parse_string(rest, [])
    defp parse_value(<<"true", rest::binary>>), do: {true, rest}
    defp parse_value(<<"false", rest::binary>>), do: {false, rest}
    defp parse_value(<<"null", rest::binary>>), do: {nil, rest}
    defp parse_value(<<c, _::binary>> = bin) when c == ?- or c in ?0..?9, do: parse_number(bin)
    defp parse_value(<<>>), do: unexpected_end()
    defp parse_value(bin), do: partial_literal(bin)

    # A strict prefix of a literal at the end of input is an unexpected end;
    # anything else is an invalid byte.
    defp partial_literal(bin) do
      if Enum.any?(["true", "false", "null"], &String.starts_with?(&1, bin)),
        do: unexpected_end(),
        else: invalid_at(bin)
    end

    defp object_first(<<?}, rest::binary>>), do: {%{}, rest}
    defp object_first(bin), do: object_pairs(bin, [])

    defp object_pairs(<<?", rest::binary>>, acc) do
      {key, rest} = parse_string(rest, [])

      rest =
        case skip_ws(rest) do
          <<?:, after_colon::binary>> -> skip_ws(after_colon)
          other -> invalid_at(other)
        end

      {val, rest} = parse_value(rest)
      acc = [{key, val} | acc]

      case skip_ws(rest) do
        <<?,, more::binary>> -> more |> skip_ws() |> object_pairs(acc)
        # The list is newest first, so for a repeated key the first one wins.
        <<?}, more::binary>> -> {:maps.from_list(acc), more}
        other -> invalid_at(other)
      end
    end

    defp object_pairs(bin, _acc), do: invalid_at(bin)

    defp array_first(<<?], rest::binary>>), do: {[], rest}
    defp array_first(bin), do: array_items(bin, [])

    defp array_items(bin, acc) do
      {val, rest} = parse_value(bin)

      case skip_ws(rest) do
        <<?,, more::binary>> -> more |> skip_ws() |> array_items([val | acc])
        <<?], more::binary>> -> {:lists.reverse(acc, [val]), more}
        other -> invalid_at(other)
      end
    end

    defp parse_string(bin, acc) do
      len = plain_run(bin, 0)
      <<chunk::binary-size(len), rest::binary>> = bin

      if not String.valid?(chunk), do: invalid_utf8(chunk, bin)

      case rest do
        <<?", after_quote::binary>> ->
          {finish_string(acc, chunk), after_quote}

        <<?\\, esc_rest::binary>> ->
          {piece, after_escape} = parse_escape(esc_rest, rest)
          parse_string(after_escape, [acc, chunk | piece])

        <<>> ->
          unexpected_end()

        control ->
          invalid_at(control)
      end
    end

    defp finish_string([], chunk), do: chunk
    defp finish_string(acc, chunk), do: IO.iodata_to_binary([acc, chunk])

    defp plain_run(<<c, rest::binary>>, n) when c != ?" and c != ?\\ and c >= 0x20,
      do: plain_run(rest, n + 1)

    defp plain_run(_bin, n), do: n

    defp invalid_utf8(chunk, bin) do
      bad = first_invalid_utf8(chunk, 0)
      throw({__MODULE__, :invalid, binary_part(bin, bad, byte_size(bin) - bad)})
    end

    defp first_invalid_utf8(<<_cp::utf8, rest::binary>> = bin, offset),
      do: first_invalid_utf8(rest, offset + byte_size(bin) - byte_size(rest))

    defp first_invalid_utf8(_bin, offset), do: offset

    defp parse_escape(<<?", rest::binary>>, _at), do: {[?"], rest}
    defp parse_escape(<<?\\, rest::binary>>, _at), do: {[?\\], rest}
    defp parse_escape(<<?/, rest::binary>>, _at), do: {[?/], rest}
    defp parse_escape(<<?b, rest::binary>>, _at), do: {[?\b], rest}
    defp parse_escape(<<?f, rest::binary>>, _at), do: {[?\f], rest}
    defp parse_escape(<<?n, rest::binary>>, _at), do: {[?\n], rest}
    defp parse_escape(<<?r, rest::binary>>, _at), do: {[?\r], rest}
    defp parse_escape(<<?t, rest::binary>>, _at), do: {[?\t], rest}

    defp parse_escape(<<?u, a, b, c, d, rest::binary>>, at) do
      case hex4(a, b, c, d) do
        hi when hi in 0xD800..0xDBFF ->
          case rest do
            <<?\\, ?u, e, f, g, h, more::binary>> ->
              case hex4(e, f, g, h) do
                lo when lo in 0xDC00..0xDFFF ->
                  cp = 0x10000 + Bitwise.bsl(hi - 0xD800, 10) + (lo - 0xDC00)
                  {<<cp::utf8>>, more}

                _ ->
                  throw({__MODULE__, :sequence, at, binary_part(at, 0, 12)})
              end

            _ ->
              throw({__MODULE__, :sequence, at, binary_part(at, 0, 6)})
          end

        cp when cp in 0xDC00..0xDFFF or cp < 0 ->
          throw({__MODULE__, :sequence, at, binary_part(at, 0, 6)})

        cp ->
          {<<cp::utf8>>, rest}
      end
    end

    defp parse_escape(<<?u, _::binary>>, _at), do: unexpected_end()
    defp parse_escape(<<>>, _at), do: unexpected_end()
    defp parse_escape(bin, _at), do: invalid_at(bin)

    # Value of four hex digits, or a negative number when one is not a digit.
    defp hex4(a, b, c, d) do
      case {hex(a), hex(b), hex(c), hex(d)} do
        {w, x, y, z} when w >= 0 and x >= 0 and y >= 0 and z >= 0 ->
          w * 4096 + x * 256 + y * 16 + z

        _ ->
          -1
      end
    end

    defp hex(c) when c in ?0..?9, do: c - ?0
    defp hex(c) when c in ?a..?f, do: c - ?a + 10
    defp hex(c) when c in ?A..?F, do: c - ?A + 10
    defp hex(_c), do: -1

    defp parse_number(bin) do
      {int_len, rest} = number_int(bin)
      {frac_len, rest} = number_frac(rest)
      {exp_len, rest} = number_exp(rest)
      text = binary_part(bin, 0, int_len + frac_len + exp_len)

      cond do
        frac_len == 0 and exp_len == 0 ->
          {String.to_integer(text), rest}

        frac_len == 0 ->
          int_part = binary_part(text, 0, int_len)
          exp_part = binary_part(text, int_len, exp_len)
          {float_of(int_part <> ".0" <> exp_part, bin), rest}

        true ->
          {float_of(text, bin), rest}
      end
    end

    defp float_of(text, at) do
      :erlang.binary_to_float(text)
    rescue
      ArgumentError -> throw({__MODULE__, :sequence, at, text})
    end

    defp number_int(<<?-, rest::binary>>) do
      {len, rest} = number_int_digits(rest)
      {len + 1, rest}
    end

    defp number_int(bin), do: number_int_digits(bin)

    defp number_int_digits(<<?0, rest::binary>>), do: {1, rest}

    defp number_int_digits(<<c, _::binary>> = bin) when c in ?1..?9, do: digits(bin, 0)

    defp number_int_digits(<<>>), do: unexpected_end()
    defp number_int_digits(bin), do: invalid_at(bin)

    defp number_frac(<<?., rest::binary>>) do
      case rest do
        <<c, _::binary>> when c in ?0..?9 ->
          {len, rest} = digits(rest, 0)
          {len + 1, rest}

        <<>> ->
          unexpected_end()

        other ->
          invalid_at(other)
      end
    end

    defp number_frac(bin), do: {0, bin}

    defp number_exp(<<e, rest::binary>>) when e in [?e, ?E] do
      {sign_len, rest} =
        case rest do
          <<s, more::binary>> when s in [?+, ?-] -> {1, more}
          _ -> {0, rest}
        end

      case rest do
        <<c, _::binary>> when c in ?0..?9 ->
          {len, rest} = digits(rest, 0)
          {1 + sign_len + len, rest}

        <<>> ->
          unexpected_end()

        other ->
          invalid_at(other)
      end
    end

    defp number_exp(bin), do: {0, bin}

    defp digits(<<c, rest::binary>>, n) when c in ?0..?9, do: digits(rest, n + 1)
    defp digits(rest, n), do: {n, rest}

    defp unexpected_end, do: throw({__MODULE__, :unexpected_end})

    defp invalid_at(<<>>), do: unexpected_end()
    defp invalid_at(bin), do: throw({__MODULE__, :invalid, bin})
  end
end
