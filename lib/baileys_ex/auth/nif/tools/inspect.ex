defmodule BaileysEx.Auth.NIF.Tools.Inspect do
  @moduledoc false
  # Looks into an auth directory without writing into it (read with `File`,
  # decoded in memory), and masks private key material unless asked not to.

  alias BaileysEx.Auth.NIF.Tools.Layout

  # Field names whose binaries are secrets: private halves of key pairs,
  # Signal chain and root keys, sender-key seeds, app-state keys.
  @secret_fields ~w(private private_key adv_secret_key root_key key seed cipher_key iv key_data
                    mac_key value_mac companion_key message_keys)a

  @spec dir(Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def dir(dir, opts) do
    with {:ok, names, backend} <- open(dir, opts) do
      stats =
        for name <- names, {:ok, stat} <- [File.stat(Path.join(dir, name), time: :posix)] do
          {name, Layout.classify(name, backend), stat}
        end

      types =
        for {_name, {:key, type, _id}, stat} <- stats, reduce: %{} do
          acc ->
            Map.update(acc, type, %{count: 1, bytes: stat.size}, fn t ->
              %{count: t.count + 1, bytes: t.bytes + stat.size}
            end)
        end

      by_time =
        stats
        |> Enum.filter(fn {_n, _k, stat} -> stat.type == :regular end)
        |> Enum.sort_by(fn {name, _k, stat} -> {stat.mtime, name} end)

      {:ok,
       %{
         dir: dir,
         backend: backend,
         types: types,
         oldest: by_time |> List.first() |> name_time(),
         newest: by_time |> List.last() |> name_time(),
         creds: creds(dir, names, backend)
       }}
    end
  end

  defp name_time(nil), do: nil
  defp name_time({name, _kind, stat}), do: {name, stat.mtime}

  defp creds(dir, names, backend) do
    name = Layout.creds(backend)

    if name in names do
      with {:ok, bytes} <- File.read(Path.join(dir, name)),
           {:ok, creds} <- Layout.decode(backend, :credentials, bytes) do
        me = field(creds, :me)

        [
          registered: field(creds, :registered),
          "me.id": field(me, :id),
          platform: field(creds, :platform),
          next_pre_key_id: field(creds, :next_pre_key_id)
        ]
      end
    end
  end

  defp field(%{} = map, key), do: Map.get(map, key, Map.get(map, Atom.to_string(key)))
  defp field(_other, _key), do: nil

  @doc "The ids of one type (the manifest's exact ids where it has them), each with its file and size."
  @spec type(Path.t(), atom(), keyword()) :: {:ok, [map()]} | {:error, term()}
  def type(dir, type, opts) do
    with {:ok, names, backend} <- open(dir, opts) do
      indexed = indexed_ids(dir, names, backend, type)

      {:ok,
       for name <- Enum.sort(names),
           {:key, ^type, scanned} <- [Layout.classify(name, backend)],
           {:ok, stat} <- [File.stat(Path.join(dir, name))],
           id <- Map.get(indexed, name, [scanned]) do
         %{id: id, file: name, bytes: stat.size}
       end}
    end
  end

  defp indexed_ids(dir, names, backend, type) do
    manifest = Layout.manifest(backend)

    with true <- manifest in names,
         {:ok, bytes} <- File.read(Path.join(dir, manifest)),
         {:ok, index} <- Layout.decode_manifest(backend, bytes) do
      index
      |> Map.get(Atom.to_string(type), [])
      |> Enum.group_by(&Layout.key_file(backend, type, &1))
    else
      _ -> %{}
    end
  end

  @doc "One key's value (`:creds` for the credentials), masked unless `secrets: true`."
  @spec key(Path.t(), atom(), String.t() | nil, keyword()) :: {:ok, term()} | {:error, term()}
  def key(dir, type, id, opts) do
    with {:ok, names, backend} <- open(dir, opts) do
      {name, slot} =
        if type == :creds,
          do: {Layout.creds(backend), :credentials},
          else: {Layout.key_file(backend, type, id), {:key, type}}

      with true <- name in names || {:error, :not_found},
           {:ok, bytes} <- File.read(Path.join(dir, name)),
           {:ok, value} <- Layout.decode(backend, slot, bytes) do
        {:ok, if(Keyword.get(opts, :secrets, false), do: value, else: mask(value))}
      end
    end
  end

  defp open(dir, opts) do
    with {:ok, names} <- File.ls(dir),
         {:ok, backend} <- backend(names, opts),
         do: {:ok, names, backend}
  end

  defp backend(names, opts) do
    case Keyword.get(opts, :backend) do
      nil -> Layout.detect(names)
      backend -> {:ok, backend}
    end
  end

  @doc "Replaces every binary under a secret field name by a note of its size."
  @spec mask(term()) :: term()
  def mask(%{__struct__: module} = struct),
    do: struct |> Map.from_struct() |> mask() |> Map.put(:__struct__, module)

  def mask(%{} = map) do
    Map.new(map, fn {k, v} ->
      if secret?(k), do: {k, hide(v)}, else: {k, mask(v)}
    end)
  end

  def mask(list) when is_list(list), do: Enum.map(list, &mask/1)
  def mask(tuple) when is_tuple(tuple), do: tuple |> Tuple.to_list() |> mask() |> List.to_tuple()
  def mask(other), do: other

  defp secret?(k) when is_atom(k), do: k in @secret_fields
  defp secret?(k) when is_binary(k), do: k in Enum.map(@secret_fields, &Atom.to_string/1)
  defp secret?(_k), do: false

  defp hide(bin) when is_binary(bin), do: "(masked: #{byte_size(bin)} bytes)"
  defp hide(other), do: mask_all(other)

  # Under a secret field every binary is secret (e.g. a map of message keys).
  defp mask_all(bin) when is_binary(bin), do: hide(bin)
  defp mask_all(%{__struct__: _} = struct), do: struct |> Map.from_struct() |> mask_all()
  defp mask_all(%{} = map), do: Map.new(map, fn {k, v} -> {k, mask_all(v)} end)
  defp mask_all(list) when is_list(list), do: Enum.map(list, &mask_all/1)
  defp mask_all(other), do: other
end
