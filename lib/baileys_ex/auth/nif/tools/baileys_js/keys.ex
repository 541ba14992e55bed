defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Keys do
  @moduledoc false
  # One key file's value both ways, by type. Sessions and sender keys have
  # their own modules; the rest is small enough to live here. Types whose
  # values both sides keep as plain JSON (sender-key-memory, lid-mapping,
  # device-list, tctoken, identity-key) pass through: Buffer objects are
  # bytes to both.

  import BaileysEx.Auth.NIF.Tools.BaileysJS.Convert

  alias BaileysEx.Auth.NIF.Tools.BaileysJS.{BufferJSON, Session, SenderKey}

  @doc "A JS key value to BaileysEx's JSON for `type`; `ctx` holds `:local_identity`."
  @spec to_ex(atom(), term(), map()) :: term()
  def to_ex(:session, js, ctx), do: Session.to_ex(js, ctx.local_identity)
  def to_ex(:"sender-key", js, _ctx), do: SenderKey.to_ex(js)

  def to_ex(:"pre-key", js, _ctx) do
    js = object(js, [])
    drop_unknown(js, ["public", "private"], [], "a key pair holds public and private only")

    %{
      "public" => buffer(js["public"], ["public"]),
      "private" => buffer(js["private"], ["private"])
    }
  end

  # protobufjs's toJSON wrote AppStateSyncKeyData: keyData as a base64
  # string, fingerprint and timestamp beside it. BaileysEx keeps key_data.
  def to_ex(:"app-state-sync-key", js, _ctx) do
    js = object(js, [])
    drop_unknown(js, ["keyData"], [], "BaileysEx keeps only key_data of an app-state sync key")
    %{"key_data" => buffer(js["keyData"], ["keyData"])}
  end

  def to_ex(:"app-state-sync-version", js, _ctx) do
    js = object(js, [])
    drop_unknown(js, ["version", "hash", "indexValueMap"], [], "not part of an LTHash state")

    index =
      for {k, v} <- object(Map.get(js, "indexValueMap", %{}), ["indexValueMap"]), into: %{} do
        path = ["indexValueMap", k]
        {k, %{"value_mac" => buffer(object(v, path)["valueMac"], path ++ ["valueMac"])}}
      end

    %{
      "version" => integer(js["version"], ["version"]),
      "hash" => buffer(js["hash"], ["hash"]),
      "index_value_map" => index
    }
  end

  def to_ex(_type, js, _ctx), do: js

  @doc """
  BaileysEx's JSON for `type` (as the NIF writes it) to the JS value that
  Baileys `version` (6 or 7) stores. Only sender keys differ between them.
  """
  @spec to_js(atom(), term(), 6 | 7) :: term()
  def to_js(:"sender-key", ex, version), do: SenderKey.to_js(object(ex, []), version)
  def to_js(type, ex, _version), do: to_js(type, ex)

  defp to_js(:session, ex), do: Session.to_js(object(ex, []))

  defp to_js(:"pre-key", ex) do
    ex = object(ex, [])

    %{
      "public" => buffer(ex["public"], ["public"]),
      "private" => buffer(ex["private"], ["private"])
    }
  end

  # BaileysEx also stores a bare binary here (the form its receiver writes).
  defp to_js(:"app-state-sync-key", %{"key_data" => data}),
    do: %{"keyData" => base64(data, ["key_data"])}

  defp to_js(:"app-state-sync-key", data), do: %{"keyData" => base64(data, [])}

  defp to_js(:"app-state-sync-version", ex) do
    ex = object(ex, [])

    %{
      "version" => ex["version"],
      "hash" => buffer(ex["hash"], ["hash"]),
      "indexValueMap" =>
        Map.new(ex["index_value_map"] || %{}, fn {k, v} ->
          {k, %{"valueMac" => buffer(v["value_mac"], ["index_value_map", k])}}
        end)
    }
  end

  # Baileys 7 types it `{token: Buffer, timestamp?: string}` (the
  # notification's `t` attribute). BaileysEx's JSON writes a printable token
  # as text, so it is made a Buffer again; an integer timestamp becomes
  # decimal text. BaileysEx's senderTimestamp is kept (Baileys reads only
  # the two fields), and left out when null, as Baileys leaves out fields.
  defp to_js(:tctoken, %{} = ex) do
    ex
    |> Map.update("token", nil, fn
      token when is_binary(token) -> BufferJSON.buffer(token)
      other -> other
    end)
    |> Map.update("timestamp", nil, fn
      ts when is_integer(ts) -> Integer.to_string(ts)
      other -> other
    end)
    |> compact()
  end

  defp to_js(_type, ex), do: ex
end
