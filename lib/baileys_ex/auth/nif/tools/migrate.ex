defmodule BaileysEx.Auth.NIF.Tools.Migrate do
  @moduledoc false
  # Converts an auth directory to the other format. The source is only read
  # (with `File`, decoded in memory: the drop-ins would recover commits and
  # remove orphans in it). The target is written through the target drop-in
  # into a staging directory next to it, checked, then renamed into place;
  # whatever happens before the rename, the staging directory is removed and
  # an existing target is left as it was.

  alias BaileysEx.Auth.NIF.Tools.Layout
  alias BaileysEx.Auth.NIF.Tools.Staging
  alias BaileysEx.Auth.NIF.Tools.Verify

  @state BaileysEx.Auth.State
  @compile {:no_warn_undefined, [BaileysEx.Auth.State]}

  @spec run(Path.t(), Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def run(source, target, opts) do
    Process.put({__MODULE__, :calls}, 0)
    Process.put({__MODULE__, :fault_at}, Keyword.get(opts, :fault_at))

    with {:ok, to} <- target_backend(opts),
         {:ok, report} <- Verify.run(source, Keyword.take(opts, [:backend])),
         :ok <- source_usable(report) do
      force? = Keyword.get(opts, :force, false)

      build = fn staging ->
        with {:ok, result} <- build(source, report.backend, staging, to, opts),
             :ok <- check_staging(staging, to),
             do: {:ok, result}
      end

      with {:ok, result} <- Staging.run(target, force?, "migrating", build, &step/2),
           do: {:ok, Map.merge(result, %{source: source, target: target, fs_calls: calls()})}
    end
  end

  defp target_backend(opts) do
    case Keyword.fetch(opts, :to) do
      {:ok, to} when to in [:etf, :json] -> {:ok, to}
      {:ok, other} -> {:error, {:invalid_backend, other}}
      :error -> {:error, :missing_target_backend}
    end
  end

  defp source_usable(%{status: :damaged} = report), do: {:error, {:source_damaged, report}}
  defp source_usable(_report), do: :ok

  defp build(source, from, staging, to, opts) do
    with {:ok, names} <- fs(:list_source, source, fn -> File.ls(source) end),
         {:ok, index} <- source_index(source, names, from) do
      copy(source, from, staging, to, names, Layout.key_files(names, index, from), opts)
    end
  end

  defp copy(source, from, staging, to, names, keys, opts) do
    module = Layout.module(to)
    progress = Keyword.get(opts, :progress, fn _done, _total -> :ok end)
    total = length(keys)

    with {:ok, creds?, creds_diff} <- copy_creds(source, names, from, staging, module),
         {:ok, inexact} <- copy_keys(keys, source, from, staging, module, progress, total) do
      {:ok,
       %{
         from: from,
         to: to,
         creds?: creds?,
         keys: Enum.reduce(keys, 0, fn {_file, _type, ids}, acc -> acc + length(ids) end),
         per_type:
           Enum.reduce(keys, %{}, fn {_f, type, ids}, acc ->
             Map.update(acc, type, length(ids), &(&1 + length(ids)))
           end),
         inexact: creds_diff ++ inexact
       }}
    end
  end

  defp source_index(source, names, from) do
    manifest = Layout.manifest(from)

    if manifest in names do
      path = Path.join(source, manifest)

      with {:ok, bytes} <- fs(:read_manifest, path, fn -> File.read(path) end),
           do: Layout.decode_manifest(from, bytes)
    else
      {:ok, %{}}
    end
  end

  defp copy_creds(source, names, from, staging, module) do
    name = Layout.creds(from)

    if name in names do
      path = Path.join(source, name)

      with {:ok, bytes} <- fs(:read_creds, path, fn -> File.read(path) end),
           {:ok, decoded} <- Layout.decode(from, :credentials, bytes),
           {:ok, state} <- creds_state(decoded),
           :ok <-
             saved(:creds, step(:save_creds, fn -> module.save_credentials(staging, state) end)),
           {:ok, back} <- step(:load_creds, fn -> module.load_credentials(staging) end) do
        {:ok, true, diff(:creds, state, back)}
      end
    else
      {:ok, false, []}
    end
  end

  defp creds_state(%{__struct__: _} = state), do: {:ok, state}

  defp creds_state(%{} = fields) do
    if Code.ensure_loaded?(@state),
      do: {:ok, struct(@state, fields)},
      else: {:error, {:creds_need_baileys_ex, "BaileysEx.Auth.State is not available"}}
  end

  defp creds_state(other), do: {:error, {:invalid_credentials_data, other}}

  defp copy_keys(keys, source, from, staging, module, progress, total) do
    keys
    |> Enum.with_index(1)
    |> Enum.reduce_while({:ok, []}, fn {{file, type, ids}, done}, {:ok, acc} ->
      path = Path.join(source, file)

      result =
        with {:ok, bytes} <- fs(:read_key, path, fn -> File.read(path) end),
             {:ok, value} <- Layout.decode(from, {:key, type}, bytes) do
          Enum.reduce_while(ids, {:ok, acc}, fn id, {:ok, acc} ->
            copy_key(staging, module, type, id, value, acc)
          end)
        end

      progress.(done, total)

      case result do
        {:ok, acc} -> {:cont, {:ok, acc}}
        {:error, reason} -> {:halt, {:error, {:cannot_read_key, file, reason}}}
      end
    end)
    |> case do
      {:ok, inexact} -> {:ok, Enum.reverse(inexact)}
      error -> error
    end
  end

  defp copy_key(staging, module, type, id, value, acc) do
    with :ok <-
           saved(
             {type, id},
             step(:save_key, fn -> module.save_keys(staging, type, id, value) end)
           ),
         {:ok, back} <- step(:load_key, fn -> module.load_keys(staging, type, id) end) do
      {:cont, {:ok, Enum.reverse(diff({type, id}, value, back)) ++ acc}}
    else
      {:error, _reason} = error -> {:halt, error}
    end
  end

  defp saved(_what, :ok), do: :ok
  defp saved(what, {:error, reason}), do: {:error, {:target_cannot_hold, what, reason}}

  defp diff(what, from, to),
    do: for({path, a, b} <- differences(from, to, []), do: {{what, path}, a, b})

  # Where two values differ, as paths of map keys and list positions.
  defp differences(same, same, _path), do: []

  defp differences(%{} = a, %{} = b, path) do
    a = if is_struct(a), do: Map.from_struct(a), else: a
    b = if is_struct(b), do: Map.from_struct(b), else: b

    if Map.keys(a) == Map.keys(b) do
      Enum.flat_map(a, fn {k, v} -> differences(v, Map.fetch!(b, k), path ++ [k]) end)
    else
      [{path, a, b}]
    end
  end

  defp differences(a, b, path) when is_list(a) and is_list(b) and length(a) == length(b) do
    [a, b]
    |> Enum.zip()
    |> Enum.with_index()
    |> Enum.flat_map(fn {{x, y}, i} -> differences(x, y, path ++ [i]) end)
  end

  defp differences(a, b, path), do: [{path, a, b}]

  defp check_staging(staging, to) do
    case step(:verify_staging, fn -> Verify.run(staging, backend: to) end) do
      {:ok, %{status: :damaged} = report} -> {:error, {:staging_damaged, report}}
      {:ok, _report} -> :ok
      {:error, _reason} = error -> error
    end
  end

  defp calls, do: Process.get({__MODULE__, :calls}, 0)

  # Every filesystem call goes through here, so a test can make the Nth one
  # fail and check what is left.
  defp fs(label, path, fun), do: Staging.fs(&step/2, label, path, fun)

  defp step(label, fun) do
    n = calls() + 1
    Process.put({__MODULE__, :calls}, n)

    if Process.get({__MODULE__, :fault_at}) == n,
      do: raise(RuntimeError, "injected fault at filesystem call #{n} (#{label})")

    fun.()
  end
end
