defmodule BaileysEx.Auth.NIF.Tools.Layout do
  @moduledoc false
  # What a file name in an auth directory means (docs/FORMAT.md, sections 2
  # and 4), and reading files without going through the drop-ins: their
  # calls recover commits and remove orphans, which writes into the
  # directory, while the tools must be able to look without touching.

  alias BaileysEx.Auth.NIF

  @types [
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

  # Longest prefix first, so `sender-key-memory-x` is not a sender key.
  @by_prefix @types
             |> Enum.map(&{Atom.to_string(&1) <> "-", &1})
             |> Enum.sort_by(&(-byte_size(elem(&1, 0))))

  @type backend :: :etf | :json

  @spec types() :: [atom()]
  def types, do: @types

  @spec ext(backend()) :: String.t()
  def ext(:etf), do: ".etf"
  def ext(:json), do: ".json"

  @spec manifest(backend()) :: String.t()
  def manifest(:etf), do: ".baileys_ex_native_file_persistence.etf"
  def manifest(:json), do: ".baileys_ex_file_persistence.json"

  @spec commit_record(backend()) :: String.t()
  def commit_record(:etf), do: ".baileys_ex_native_file_persistence.commit"
  def commit_record(:json), do: ".baileys_ex_file_persistence.commit"

  @spec creds(backend()) :: String.t()
  def creds(backend), do: "creds" <> ext(backend)

  @spec manifest_backend(backend()) :: String.t()
  def manifest_backend(:etf), do: "native_file_persistence"
  def manifest_backend(:json), do: "file_persistence"

  @spec module(backend()) :: module()
  def module(:etf), do: BaileysEx.Auth.NIF.NativeFilePersistence
  def module(:json), do: BaileysEx.Auth.NIF.FilePersistence

  @doc "The backend a directory was written by, from its manifest, creds or key files."
  @spec detect([String.t()]) :: {:ok, backend()} | {:error, :unknown_backend}
  def detect(names) do
    cond do
      manifest(:etf) in names or creds(:etf) in names -> {:ok, :etf}
      manifest(:json) in names or creds(:json) in names -> {:ok, :json}
      true -> detect_by_keys(names)
    end
  end

  defp detect_by_keys(names) do
    etf = Enum.count(names, &key_file?(&1, :etf))
    json = Enum.count(names, &key_file?(&1, :json))

    cond do
      etf == 0 and json == 0 -> {:error, :unknown_backend}
      etf >= json -> {:ok, :etf}
      true -> {:ok, :json}
    end
  end

  defp key_file?(name, backend), do: match?({:key, _, _}, classify(name, backend))

  @doc "The file a key is stored in, as the originals name it."
  @spec key_file(backend(), atom(), String.t()) :: String.t()
  def key_file(backend, type, id) do
    (Atom.to_string(type) <> "-" <> id <> ext(backend))
    |> String.replace("/", "__")
    |> String.replace(":", "-")
  end

  @doc """
  Each key file of a directory listing with the ids it holds: the ids the
  manifest index names it for, else the id a directory scan reads from its
  name. Sorted by file name.
  """
  @spec key_files([String.t()], %{String.t() => [String.t()]}, backend()) ::
          [{String.t(), atom(), [String.t()]}]
  def key_files(names, index, backend) do
    by_file =
      for {type_name, ids} <- index,
          type = Enum.find(@types, &(Atom.to_string(&1) == type_name)),
          type != nil,
          id <- ids,
          reduce: %{} do
        acc -> Map.update(acc, key_file(backend, type, id), [id], &(&1 ++ [id]))
      end

    for name <- Enum.sort(names), {:key, type, scanned} <- [classify(name, backend)] do
      {name, type, Map.get(by_file, name, [scanned])}
    end
  end

  @doc """
  What a directory entry is: the manifest, the creds, a commit record, a
  temporary file (ours `.tmp-<pid>-<n>`, the original's `.tmp-<n>`), a key
  file with its type and the id a directory scan reads back, or unknown.
  """
  @spec classify(String.t(), backend()) ::
          :manifest | :creds | :commit | :temp | {:key, atom(), String.t()} | :unknown
  def classify(name, backend) do
    ext = ext(backend)

    cond do
      name == manifest(backend) -> :manifest
      name == creds(backend) -> :creds
      name == commit_record(backend) -> :commit
      Regex.match?(~r/\.tmp-\d+(-\d+)?$/, name) -> :temp
      String.ends_with?(name, ext) -> scan(String.replace_suffix(name, ext, ""))
      true -> :unknown
    end
  end

  defp scan(stem) do
    case Enum.find(@by_prefix, fn {prefix, _type} -> String.starts_with?(stem, prefix) end) do
      {prefix, type} -> {:key, type, restore_id(type, String.replace_prefix(stem, prefix, ""))}
      nil -> :unknown
    end
  end

  defp restore_id(type, raw) do
    id = String.replace(raw, "__", "/")

    case {type, Regex.run(~r/^(.*)--([^-]+)--(\d+)$/s, id)} do
      {:"sender-key", [_, group, sender, device]} -> "#{group}::#{sender}::#{device}"
      _ -> id
    end
  end

  @doc "Decodes a creds or key file's bytes through the codecs, in memory."
  @spec decode(backend(), :credentials | {:key, atom()}, binary()) ::
          {:ok, term()} | {:error, term()}
  def decode(backend, slot, bytes) do
    case NIF.decode(backend, slot, bytes) do
      {:ok, _value} = ok -> ok
      {:error, {:invalid_etf, _bytes}} -> {:error, :not_a_valid_etf_term}
      {:error, {:argument_error, message}} -> {:error, message}
      {:error, _reason} = error -> error
    end
  end

  @doc "Decodes a manifest's bytes and checks its shape; returns its index."
  @spec decode_manifest(backend(), binary()) ::
          {:ok, %{String.t() => [String.t()]}} | {:error, term()}
  def decode_manifest(backend, bytes) do
    with {:ok, term} <- manifest_term(backend, bytes) do
      expected = manifest_backend(backend)

      case term do
        %{"backend" => ^expected, "version" => 1, "key_index" => %{} = index} ->
          check_index(index)

        %{"backend" => ^expected, "version" => version} ->
          {:error, {:unsupported_version, version}}

        %{"backend" => other} ->
          {:error, {:unexpected_backend, other}}

        other ->
          {:error, {:not_a_manifest, other}}
      end
    end
  end

  defp manifest_term(:etf, bytes) do
    {:ok, :erlang.binary_to_term(bytes, [:safe])}
  rescue
    ArgumentError -> {:error, :not_a_valid_etf_term}
  end

  # Any untyped JSON key type decodes plain JSON to string-keyed maps.
  defp manifest_term(:json, bytes), do: decode(:json, {:key, :"device-list"}, bytes)

  defp check_index(index) do
    if Enum.all?(index, fn {type, ids} ->
         is_binary(type) and is_list(ids) and Enum.all?(ids, &is_binary/1)
       end),
       do: {:ok, index},
       else: {:error, {:malformed_key_index, index}}
  end
end
