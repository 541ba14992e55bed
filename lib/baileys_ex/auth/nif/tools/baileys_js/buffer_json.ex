defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.BufferJSON do
  @moduledoc false
  # Bytes as Baileys JS writes them: `{"type":"Buffer","data":"<base64>"}`
  # (its BufferJSON replacer), a list of byte values in `data` (what Node's
  # own Buffer#toJSON gives, which the reviver accepts too), or a plain
  # base64 string where libsignal and protobufjs write strings themselves
  # (session records, `account`, app-state key data).

  alias BaileysEx.Auth.NIF.Tools.BaileysJS.Convert

  @doc "A Buffer object for `bytes`."
  @spec buffer(binary()) :: map()
  def buffer(bytes) when is_binary(bytes),
    do: %{"type" => "Buffer", "data" => Base.encode64(bytes)}

  @doc """
  Bytes as Node's own `Buffer#toJSON` (plain `JSON.stringify`) writes them:
  `{"type":"Buffer","data":[byte, ...]}`.
  """
  @spec node_buffer(binary()) :: map()
  def node_buffer(bytes) when is_binary(bytes),
    do: %{"type" => "Buffer", "data" => :binary.bin_to_list(bytes)}

  @doc "True for an object the BufferJSON reviver turns into a Buffer."
  @spec buffer?(term()) :: boolean()
  def buffer?(%{"type" => "Buffer"}), do: true
  def buffer?(%{"buffer" => true}), do: true
  def buffer?(_value), do: false

  @doc "The bytes of a Buffer object or base64 string; throws a conversion error naming `path`."
  @spec bytes(term(), [String.t()]) :: binary()
  def bytes(value, path) do
    case value do
      %{"type" => "Buffer", "data" => data} -> data_bytes(data, path)
      %{"buffer" => true, "value" => data} -> data_bytes(data, path)
      data when is_binary(data) -> base64(data, path)
      other -> Convert.fail(path, {:expected_bytes, short(other)})
    end
  end

  defp data_bytes(data, path) when is_binary(data), do: base64(data, path)

  defp data_bytes(data, path) when is_list(data) do
    if Enum.all?(data, &(is_integer(&1) and &1 in 0..255)),
      do: :erlang.list_to_binary(data),
      else: Convert.fail(path, :invalid_byte_list)
  end

  defp data_bytes(other, path), do: Convert.fail(path, {:expected_bytes, short(other)})

  # Node's decoder accepts both alphabets and missing padding; so do we.
  defp base64(text, path) do
    text =
      String.replace(text, ["-", "_"], fn
        "-" -> "+"
        "_" -> "/"
      end)

    case Base.decode64(text, padding: false) do
      {:ok, bytes} -> bytes
      :error -> Convert.fail(path, :invalid_base64)
    end
  end

  defp short(value), do: value |> inspect(limit: 5, printable_limit: 40) |> String.slice(0, 80)
end
