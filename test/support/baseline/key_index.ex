defmodule BaileysEx.Auth.NIF.Baseline.KeyIndex do
  @moduledoc """
  Directory layout rules shared by the two pure-Elixir baseline backends
  (contract sections 2 and 4): file names, the manifest map and its
  normalisation, and the key listing (manifest index merged with a directory
  scan).

  These are pure functions over names and maps; reading, writing and locking
  stay in the backend modules.
  """

  @persisted_types [
    :session,
    :"pre-key",
    :"sender-key",
    :"sender-key-memory",
    :"app-state-sync-key",
    :"app-state-sync-version",
    :"lid-mapping",
    :"device-list",
    :tctoken,
    :"identity-key"
  ]

  @type_by_name Map.new(@persisted_types, &{Atom.to_string(&1), &1})

  # Longest prefix first, so "sender-key-memory-" wins over "sender-key-".
  @prefixes @persisted_types
            |> Enum.map(&{&1, Atom.to_string(&1) <> "-"})
            |> Enum.sort_by(fn {_type, prefix} -> -byte_size(prefix) end)

  @format_version 1

  @typedoc "Key listing: persisted type => sorted unique ids."
  @type listing :: %{optional(atom()) => [String.t()]}

  @doc "The ten key types that are indexed and listed."
  @spec persisted_types() :: [atom()]
  def persisted_types, do: @persisted_types

  @doc """
  Sanitised file name `<type>-<id><ext>` (`ext` includes the dot): every `/`
  becomes `__`, then every `:` becomes `-`.
  """
  @spec file_name(atom(), term(), String.t()) :: String.t()
  def file_name(type, id, ext), do: sanitize("#{Atom.to_string(type)}-#{id}#{ext}")

  @doc "Applies the file-name sanitising rule to `name`."
  @spec sanitize(String.t()) :: String.t()
  def sanitize(name), do: name |> String.replace("/", "__") |> String.replace(":", "-")

  @doc """
  Checks a decoded manifest for `backend_id`: `{:ok, nil}` for `nil`,
  `{:ok, normalised}` for a good one, else the error tuple naming `module`.
  """
  @spec check(term(), String.t(), module()) :: {:ok, map() | nil} | {:error, term()}
  def check(nil, _backend_id, _module), do: {:ok, nil}

  def check(%{"backend" => backend_id, "version" => @format_version} = manifest, backend_id, _),
    do: {:ok, normalize(manifest, backend_id)}

  def check(%{"backend" => backend_id, "version" => version}, backend_id, module)
      when is_integer(version),
      do: {:error, {:unsupported_persistence_version, module, version}}

  def check(%{"backend" => backend}, _backend_id, module) when is_binary(backend),
    do: {:error, {:unexpected_persistence_backend, module, backend}}

  def check(other, _backend_id, module),
    do: {:error, {:invalid_persistence_metadata, module, other}}

  @doc """
  Rebuilds a manifest in canonical shape: backend, version 1, and a key index
  restricted to the persisted types, each id list filtered to strings, unique
  and sorted. `nil` gives an empty manifest.
  """
  @spec normalize(map() | nil, String.t()) :: map()
  def normalize(nil, backend_id), do: normalize(%{}, backend_id)

  def normalize(manifest, backend_id) do
    %{
      "backend" => backend_id,
      "version" => @format_version,
      "key_index" => normalize_index(Map.get(manifest, "key_index", %{}))
    }
  end

  defp normalize_index(index) when is_map(index) do
    Enum.reduce(index, %{}, fn {name, ids}, acc ->
      if Map.has_key?(@type_by_name, name) do
        clean = ids |> List.wrap() |> Enum.filter(&is_binary/1) |> Enum.uniq() |> Enum.sort()
        Map.put(acc, name, clean)
      else
        acc
      end
    end)
  end

  defp normalize_index(_other), do: %{}

  @doc """
  Adds `to_string(id)` under `type` in a (normalised) manifest; the result
  still has to be normalised.
  """
  @spec put_id(map(), atom(), term()) :: map()
  def put_id(manifest, type, id) do
    id = to_string(id)

    update_ids(manifest, type, fn
      nil -> [id]
      ids -> [id | ids] |> Enum.uniq() |> Enum.sort()
    end)
  end

  @doc """
  Removes `to_string(id)` from `type` in a (normalised) manifest. A type that
  was absent is left as `nil` (normalisation turns a known one into `[]`).
  """
  @spec drop_id(map(), atom(), term()) :: map()
  def drop_id(manifest, type, id) do
    id = to_string(id)

    update_ids(manifest, type, fn
      nil -> nil
      ids -> ids |> Enum.reject(&(&1 == id)) |> Enum.sort()
    end)
  end

  defp update_ids(%{"key_index" => index} = manifest, type, fun) do
    name = Atom.to_string(type)
    %{manifest | "key_index" => Map.put(index, name, fun.(Map.get(index, name)))}
  end

  @doc "The key index of a normalised manifest (or `nil`) with type atoms."
  @spec manifest_listing(map() | nil) :: listing()
  def manifest_listing(nil), do: %{}

  def manifest_listing(%{"key_index" => index}) do
    Enum.reduce(index, %{}, fn {name, ids}, acc ->
      case @type_by_name do
        %{^name => type} -> Map.put(acc, type, ids)
        _ -> acc
      end
    end)
  end

  @doc """
  Lists the keys found in the directory entries `entries`: names ending in
  `ext` other than `creds_file` and `manifest_file` and without `.tmp-`,
  mapped back to type and id.
  """
  @spec scan([String.t()], String.t(), String.t(), String.t()) :: listing()
  def scan(entries, ext, creds_file, manifest_file) do
    Enum.reduce(entries, %{}, fn entry, acc ->
      case entry_key(entry, ext, creds_file, manifest_file) do
        {type, id} -> Map.update(acc, type, [id], &Enum.sort(Enum.uniq([id | &1])))
        nil -> acc
      end
    end)
  end

  defp entry_key(entry, _ext, creds_file, manifest_file)
       when entry == creds_file or entry == manifest_file,
       do: nil

  defp entry_key(entry, ext, _creds_file, _manifest_file) do
    if String.ends_with?(entry, ext) and not String.contains?(entry, ".tmp-") do
      stem = String.trim_trailing(entry, ext)

      case Enum.find(@prefixes, fn {_type, prefix} -> String.starts_with?(stem, prefix) end) do
        nil -> nil
        {type, prefix} -> {type, stem |> String.replace_prefix(prefix, "") |> restore_id(type)}
      end
    end
  end

  defp restore_id(encoded, :"sender-key") do
    restored = String.replace(encoded, "__", "/")

    case Regex.run(~r/^(.*)--([^-]+)--(\d+)$/, restored, capture: :all_but_first) do
      [group, sender, device] -> group <> "::" <> sender <> "::" <> device
      nil -> restored
    end
  end

  defp restore_id(encoded, _type), do: String.replace(encoded, "__", "/")

  @doc "Union of two listings, per type unique and sorted."
  @spec merge(listing(), listing()) :: listing()
  def merge(left, right) do
    Map.merge(left, right, fn _type, a, b -> (a ++ b) |> Enum.uniq() |> Enum.sort() end)
  end
end
