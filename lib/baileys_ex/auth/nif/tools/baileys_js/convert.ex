defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Convert do
  @moduledoc false
  # What the per-type converters share: a conversion error (thrown, caught
  # once per file by `run/1`, so a deep shape check needs no error plumbing
  # through every level), the list of fields one side cannot hold (kept in
  # the process dictionary for the length of one `run/1`), and field access.

  alias BaileysEx.Auth.NIF.Tools.BaileysJS.BufferJSON

  @key {__MODULE__, :dropped}

  @doc """
  Runs one file's conversion: `{:ok, result, dropped}` with the fields it
  could not map as `{path, why}`, or `{:error, {path, reason}}`.
  """
  @spec run(fun()) :: {:ok, term(), [{String.t(), String.t()}]} | {:error, term()}
  def run(fun) when is_function(fun, 0) do
    Process.put(@key, [])

    try do
      result = fun.()
      {:ok, result, Enum.uniq(Enum.reverse(Process.get(@key)))}
    catch
      {__MODULE__, path, reason} -> {:error, {Enum.join(path, "."), reason}}
    after
      Process.delete(@key)
    end
  end

  @doc "Aborts the conversion of the current file."
  @spec fail([String.t()], term()) :: no_return()
  def fail(path, reason), do: throw({__MODULE__, path, reason})

  @doc "Records a field the other side has no place for."
  @spec drop([String.t()], String.t()) :: :ok
  def drop(path, why) do
    Process.put(@key, [{Enum.join(path, "."), why} | Process.get(@key, [])])
    :ok
  end

  @doc "Records every key of `map` not in `known` as dropped with `why`."
  @spec drop_unknown(map(), [String.t()], [String.t()], String.t()) :: :ok
  def drop_unknown(map, known, path, why) do
    for key <- Map.keys(map), key not in known, do: drop(path ++ [key], why)
    :ok
  end

  @doc "The object at `path`, or a conversion error."
  @spec object(term(), [String.t()]) :: map()
  def object(%{} = map, _path), do: map
  def object(_other, path), do: fail(path, :expected_object)

  @doc "A list, or a conversion error."
  @spec list(term(), [String.t()]) :: list()
  def list(list, _path) when is_list(list), do: list
  def list(_other, path), do: fail(path, :expected_array)

  @doc "An integer (also from a decimal string or a protobufjs Long object), or an error."
  @spec integer(term(), [String.t()]) :: integer()
  def integer(n, _path) when is_integer(n), do: n
  def integer(f, _path) when is_float(f) and f == trunc(f), do: trunc(f)

  def integer(s, path) when is_binary(s) do
    case Integer.parse(s) do
      {n, ""} -> n
      _ -> fail(path, :expected_integer)
    end
  end

  def integer(%{"low" => low, "high" => high} = long, path)
      when is_integer(low) and is_integer(high) do
    <<n::64-signed>> = <<high::32, low::32>>

    if long["unsigned"] == true do
      <<u::64-unsigned>> = <<n::64-signed>>
      u
    else
      n
    end
  rescue
    _ -> fail(path, :expected_integer)
  end

  def integer(_other, path), do: fail(path, :expected_integer)

  @doc "An optional integer: nil stays nil."
  @spec opt_integer(term(), [String.t()]) :: integer() | nil
  def opt_integer(nil, _path), do: nil
  def opt_integer(value, path), do: integer(value, path)

  @doc "A string, or an error."
  @spec string(term(), [String.t()]) :: String.t()
  def string(s, _path) when is_binary(s), do: s
  def string(_other, path), do: fail(path, :expected_string)

  @doc "Bytes of a Buffer object or base64 string, as a Buffer object (BaileysEx's JSON)."
  @spec buffer(term(), [String.t()]) :: map()
  def buffer(value, path), do: BufferJSON.buffer(BufferJSON.bytes(value, path))

  @doc "Like `buffer/2`; nil stays nil."
  @spec opt_buffer(term(), [String.t()]) :: map() | nil
  def opt_buffer(nil, _path), do: nil
  def opt_buffer(value, path), do: buffer(value, path)

  @doc "Bytes as a base64 string (what libsignal and protobufjs write)."
  @spec base64(term(), [String.t()]) :: String.t()
  def base64(value, path), do: Base.encode64(BufferJSON.bytes(value, path))

  @doc "A map's entries with nil values left out (JSON.stringify leaves out undefined)."
  @spec compact(map()) :: map()
  def compact(map), do: for({k, v} <- map, v != nil, into: %{}, do: {k, v})
end
