defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Extras do
  @moduledoc false
  # What only Baileys JS keeps: a session's `used` and `created` times and
  # an app-state sync key's `fingerprint` and `timestamp`. BaileysEx's code
  # reads neither, but an ETF file holds any map key, so an ETF import keeps
  # them beside the fields BaileysEx reads, under their JS names as string
  # keys (`index_info["used"]`, `index_info["created"]`; `"fingerprint"`
  # (`"rawId"`, `"currentIndex"`, `"deviceIndexes"`) and `"timestamp"` next
  # to `key_data`), and an export writes them back: JS -> BaileysEx (ETF) ->
  # JS gives the same files. String keys, not atoms: a file must decode with
  # `binary_to_term(bin, [:safe])` in a VM that has never seen such atoms.
  # BaileysEx's JSON format has no place for them; a JSON import drops and
  # reports them.

  @session_times ["used", "created"]
  @fingerprint ["rawId", "currentIndex"]

  @doc "Whether a field the converter reported as dropped is kept here."
  @spec kept?(atom(), String.t() | nil) :: boolean()
  def kept?(:session, field) when is_binary(field),
    do: String.ends_with?(field, ["indexInfo.used", "indexInfo.created"])

  def kept?(:"app-state-sync-key", field), do: field in ["fingerprint", "timestamp"]
  def kept?(_type, _field), do: false

  @doc "The term of a key with the extras of its JS value `js` added."
  @spec put_ex(atom(), term(), term()) :: term()
  def put_ex(:session, %{"_sessions" => js_sessions}, %{sessions: sessions} = record)
      when is_map(js_sessions) and is_map(sessions) do
    sessions =
      Enum.reduce(js_sessions, sessions, fn {b64, entry}, acc ->
        with {:ok, base_key} <- Base.decode64(b64),
             %{index_info: info} = session <- Map.get(acc, base_key),
             %{"indexInfo" => %{} = index} <- entry do
          times = Map.filter(Map.take(index, @session_times), fn {_k, v} -> is_integer(v) end)
          Map.put(acc, base_key, %{session | index_info: Map.merge(info, times)})
        else
          _other -> acc
        end
      end)

    %{record | sessions: sessions}
  end

  def put_ex(:"app-state-sync-key", %{} = js, %{key_data: _} = key) do
    key
    |> put_some("fingerprint", fingerprint(js["fingerprint"]))
    |> put_some("timestamp", integer(js["timestamp"]))
  end

  def put_ex(_type, _js, term), do: term

  @doc "The JS value of a key with the extras its term holds added."
  @spec put_js(atom(), term(), term()) :: term()
  def put_js(:session, %{sessions: sessions}, %{"_sessions" => js_sessions} = js)
      when is_map(sessions) and is_map(js_sessions) do
    js_sessions =
      Enum.reduce(sessions, js_sessions, fn {base_key, session}, acc ->
        b64 = Base.encode64(base_key)
        info = Map.get(session, :index_info, %{})
        times = Map.filter(Map.take(info, @session_times), fn {_k, v} -> is_integer(v) end)

        case acc do
          %{^b64 => %{"indexInfo" => index} = entry} when times != %{} ->
            Map.put(acc, b64, %{entry | "indexInfo" => Map.merge(index, times)})

          _other ->
            acc
        end
      end)

    %{js | "_sessions" => js_sessions}
  end

  # Baileys writes the timestamp as protobufjs does an int64: decimal text.
  def put_js(:"app-state-sync-key", %{key_data: _} = key, %{} = js) do
    timestamp =
      case Map.get(key, "timestamp") do
        ts when is_integer(ts) -> Integer.to_string(ts)
        _other -> nil
      end

    js
    |> put_some("fingerprint", fingerprint(Map.get(key, "fingerprint")))
    |> put_some("timestamp", timestamp)
  end

  def put_js(_type, _term, js), do: js

  # Integers only, whichever side it comes from.
  defp fingerprint(%{} = fp) do
    fields = Map.filter(Map.take(fp, @fingerprint), fn {_k, v} -> is_integer(v) end)

    case fp["deviceIndexes"] do
      list when is_list(list) ->
        if Enum.all?(list, &is_integer/1),
          do: Map.put(fields, "deviceIndexes", list),
          else: fields

      _other ->
        fields
    end
  end

  defp fingerprint(_other), do: nil

  defp integer(value) when is_integer(value), do: value

  defp integer(value) when is_binary(value) do
    case Integer.parse(value) do
      {int, ""} -> int
      _other -> nil
    end
  end

  defp integer(_other), do: nil

  defp put_some(map, _key, nil), do: map
  defp put_some(map, key, value), do: Map.put(map, key, value)
end
