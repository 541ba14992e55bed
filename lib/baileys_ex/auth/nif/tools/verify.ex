defmodule BaileysEx.Auth.NIF.Tools.Verify do
  @moduledoc false
  # Checks an auth directory without writing into it: every entry is read
  # with `File` and decoded in memory; the drop-ins are never called on it.

  alias BaileysEx.Auth.NIF.Tools.Layout

  @type problem :: %{
          file: String.t(),
          severity: :error | :warning | :note,
          kind: atom(),
          message: String.t()
        }

  @spec run(Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def run(dir, opts) do
    with {:ok, names} <- list(dir),
         {:ok, backend} <- backend(names, opts) do
      entries = Enum.map(Enum.sort(names), &check_entry(dir, &1, backend))
      {index, manifest_problems} = manifest(dir, names, backend)

      problems =
        Enum.flat_map(entries, & &1.problems) ++
          manifest_problems ++ index_problems(backend, index, entries)

      {:ok,
       %{
         dir: dir,
         backend: backend,
         files: length(names),
         keys: Enum.count(entries, &match?({:key, _, _}, &1.kind)),
         problems: problems,
         status: status(problems)
       }}
    end
  end

  defp list(dir) do
    case File.ls(dir) do
      {:ok, names} -> {:ok, names}
      {:error, reason} -> {:error, {:cannot_list, dir, reason}}
    end
  end

  defp backend(names, opts) do
    case Keyword.get(opts, :backend) do
      nil -> Layout.detect(names)
      backend when backend in [:etf, :json] -> {:ok, backend}
      other -> {:error, {:invalid_backend, other}}
    end
  end

  defp status(problems) do
    cond do
      Enum.any?(problems, &(&1.severity == :error)) -> :damaged
      Enum.any?(problems, &(&1.severity == :warning)) -> :warnings
      true -> :ok
    end
  end

  defp problem(file, severity, kind, message),
    do: %{file: file, severity: severity, kind: kind, message: message}

  defp check_entry(dir, name, backend) do
    kind = Layout.classify(name, backend)
    path = Path.join(dir, name)
    %{name: name, kind: kind, problems: entry_problems(path, name, kind, backend)}
  end

  defp entry_problems(path, name, kind, backend) do
    case {kind, File.stat(path)} do
      {_kind, {:error, reason}} ->
        [problem(name, :error, :unreadable, "cannot stat: #{:file.format_error(reason)}")]

      {:temp, {:ok, _stat}} ->
        [
          problem(
            name,
            :warning,
            :orphan_temp,
            "orphan temporary file from an interrupted write (never read as data)"
          )
        ]

      {:commit, {:ok, _stat}} ->
        [
          problem(
            name,
            :warning,
            :half_done_commit,
            "a commit left half done (the library completes or drops it when it next opens the directory)"
          )
        ]

      {:unknown, {:ok, %{type: type}}} ->
        [problem(name, :warning, :unknown_file, "not a file of the #{backend} layout (#{type})")]

      {_data, {:ok, %{type: :regular}}} ->
        decode_problems(path, name, kind, backend)

      {_data, {:ok, %{type: type}}} ->
        [problem(name, :error, :not_regular, "not a regular file: #{type_text(type)}")]
    end
  end

  # The manifest is decoded once, in `manifest/3`.
  defp decode_problems(_path, _name, :manifest, _backend), do: []

  defp decode_problems(path, name, kind, backend) do
    slot = if kind == :creds, do: :credentials, else: {:key, elem(kind, 1)}

    case File.read(path) do
      {:ok, bytes} ->
        case Layout.decode(backend, slot, bytes) do
          {:ok, _value} ->
            []

          {:error, reason} ->
            [problem(name, :error, :undecodable, "does not decode: #{describe(reason)}")]
        end

      {:error, reason} ->
        [problem(name, :error, :unreadable, "cannot read: #{:file.format_error(reason)}")]
    end
  end

  defp type_text(:directory), do: "a directory"
  defp type_text(:other), do: "a FIFO, socket or device"
  defp type_text(type), do: "a #{type}"

  defp describe(:not_a_valid_etf_term), do: "not a valid ETF term"
  defp describe(reason) when is_binary(reason), do: reason
  defp describe(reason), do: inspect(reason)

  defp manifest(dir, names, backend) do
    name = Layout.manifest(backend)
    path = Path.join(dir, name)

    cond do
      name not in names ->
        {%{}, []}

      not match?({:ok, %{type: :regular}}, File.stat(path)) ->
        {%{}, []}

      true ->
        with {:ok, bytes} <- File.read(path),
             {:ok, index} <- Layout.decode_manifest(backend, bytes) do
          {index, []}
        else
          {:error, reason} ->
            {%{},
             [problem(name, :error, :bad_manifest, "manifest unusable: #{describe(reason)}")]}
        end
    end
  end

  # The manifest against the files: ids indexed whose file is missing,
  # key files no id points to, ids a directory scan cannot read back, and
  # ids that share one file.
  defp index_problems(backend, index, entries) do
    files = for %{name: name, kind: {:key, _, _}} <- entries, into: MapSet.new(), do: name
    known = Map.new(Layout.types(), &{Atom.to_string(&1), &1})

    indexed =
      for {type_name, ids} <- index, Map.has_key?(known, type_name), id <- ids do
        type = Map.fetch!(known, type_name)
        {type, id, Layout.key_file(backend, type, id)}
      end

    unknown_types =
      for {type_name, _ids} <- index, not Map.has_key?(known, type_name) do
        problem(
          Layout.manifest(backend),
          :warning,
          :unknown_type,
          "indexes unknown key type #{inspect(type_name)} (the library drops it)"
        )
      end

    pointed = MapSet.new(indexed, &elem(&1, 2))

    missing =
      for {type, id, file} <- indexed, not MapSet.member?(files, file) do
        problem(file, :error, :indexed_missing, "indexed as #{type} #{inspect(id)} but missing")
      end

    unindexed =
      for file <- files, not MapSet.member?(pointed, file) do
        problem(
          file,
          :warning,
          :unindexed,
          "key file not in the manifest (listing still finds it)"
        )
      end

    lossy =
      for {type, id, file} <- indexed,
          {:key, _type, scanned} = Layout.classify(file, backend),
          scanned != id do
        problem(
          file,
          :note,
          :lossy_name,
          "#{type} id #{inspect(id)}: a directory scan reads the file name back as #{inspect(scanned)}"
        )
      end

    shared =
      indexed
      |> Enum.group_by(&elem(&1, 2), &elem(&1, 1))
      |> Enum.filter(fn {_file, ids} -> length(ids) > 1 end)
      |> Enum.map(fn {file, ids} ->
        problem(file, :warning, :shared_file, "ids #{inspect(ids)} are stored in this one file")
      end)

    unknown_types ++ missing ++ unindexed ++ lossy ++ shared
  end
end
