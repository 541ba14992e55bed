defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Export do
  @moduledoc false
  # BaileysEx directory (ETF or JSON, detected) -> Baileys JS folder. The
  # source is only read, with `File` and the codecs (as `Tools.migrate/3`
  # reads). Each term is written in BaileysEx's JSON dialect by the NIF's
  # codec, converted to Baileys JS's shapes and written as Baileys writes
  # it. Every written file is then read back and imported again: what does
  # not come back equal is listed in the report as inexact.

  alias BaileysEx.Auth.NIF.Tools.BaileysJS.{Convert, Creds, Extras, Folder, Keys}
  alias BaileysEx.Auth.NIF.Tools.{JSON, Layout, Staging, Verify}
  alias BaileysEx.Auth.NIF

  @spec run(Path.t(), Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def run(source, target, opts) do
    with {:ok, version} <- version(Keyword.get(opts, :baileys, 6)),
         {:ok, report} <- Verify.run(source, Keyword.take(opts, [:backend])),
         :ok <- usable(report),
         {:ok, names} <- list(source),
         {:ok, index} <- index(source, names, report.backend),
         {:ok, state} <- creds(source, names, report.backend) do
      from = report.backend
      keys = Layout.key_files(names, index, from)

      Staging.run(target, Keyword.get(opts, :force, false), "exporting", fn staging ->
        build(source, from, state, keys, staging, version)
      end)
      |> case do
        {:ok, result} ->
          {:ok,
           Map.merge(result, %{source: source, target: target, from: from, baileys: version})}

        error ->
          error
      end
    end
  end

  # The Baileys JS major version whose shapes are written; 6 is npm's
  # `latest`, 7 its release candidates.
  defp version(version) when version in [6, 7], do: {:ok, version}
  defp version(other), do: {:error, {:invalid_baileys_version, other}}

  defp usable(%{status: :damaged} = report), do: {:error, {:source_damaged, report}}
  defp usable(_report), do: :ok

  defp list(source) do
    case File.ls(source) do
      {:ok, names} -> {:ok, names}
      {:error, reason} -> {:error, {:cannot_list_source, source, reason}}
    end
  end

  defp index(source, names, from) do
    manifest = Layout.manifest(from)

    if manifest in names do
      with {:ok, bytes} <- read(Path.join(source, manifest)),
           do: Layout.decode_manifest(from, bytes)
    else
      {:ok, %{}}
    end
  end

  # Baileys JS needs creds.json: without it, useMultiFileAuthState starts a
  # new device.
  defp creds(source, names, from) do
    name = Layout.creds(from)

    with true <- name in names || {:error, {:missing_creds, Path.join(source, name)}},
         {:ok, bytes} <- read(Path.join(source, name)),
         {:ok, state} <- decode(name, from, :credentials, bytes) do
      if is_struct(state), do: {:ok, state}, else: {:error, {:invalid_credentials_data, name}}
    end
  end

  defp read(path) do
    case File.read(path) do
      {:ok, bytes} -> {:ok, bytes}
      {:error, reason} -> {:error, {:cannot_read, Path.basename(path), reason}}
    end
  end

  defp decode(file, backend, slot, bytes) do
    case Layout.decode(backend, slot, bytes) do
      {:ok, term} -> {:ok, term}
      {:error, reason} -> {:error, {:invalid_file, file, nil, reason}}
    end
  end

  defp build(source, from, state, keys, staging, version) do
    with {:ok, creds_dropped} <- write_creds(state, staging),
         {:ok, local_identity} <- local_identity(state),
         {:ok, acc} <- write_keys(source, from, keys, staging, version),
         {:ok, inexact} <- read_back(staging, state, acc.written, local_identity) do
      {:ok,
       %{
         creds?: true,
         keys: acc.per_type |> Map.values() |> Enum.sum(),
         per_type: acc.per_type,
         unmapped: creds_dropped ++ acc.unmapped,
         inexact: inexact
       }}
    end
  end

  defp write_creds(state, staging) do
    with {:ok, js, dropped} <- to_js("creds.json", :credentials, state, &Creds.to_js/1),
         :ok <- Staging.write(Path.join(staging, "creds.json"), JSON.encode(js)),
         do: {:ok, dropped}
  end

  defp local_identity(%{signed_identity_key: %{public: <<public::binary-size(32)>>}}),
    do: {:ok, <<5>> <> public}

  defp local_identity(%{signed_identity_key: %{public: <<5, _::binary-size(32)>> = public}}),
    do: {:ok, public}

  defp local_identity(_state), do: {:error, {:invalid_credentials_data, :signed_identity_key}}

  defp write_keys(source, from, keys, staging, version) do
    acc0 = %{per_type: %{}, unmapped: [], written: []}

    Enum.reduce_while(keys, {:ok, acc0}, fn {file, type, ids}, {:ok, acc} ->
      result =
        with {:ok, bytes} <- read(Path.join(source, file)),
             {:ok, value} <- decode(file, from, {:key, type}, bytes) do
          Enum.reduce_while(ids, {:ok, acc}, fn id, {:ok, acc} ->
            case write_key(type, id, value, staging, version) do
              {:ok, name, dropped} ->
                {:cont,
                 {:ok,
                  %{
                    acc
                    | per_type: Map.update(acc.per_type, type, 1, &(&1 + 1)),
                      unmapped: acc.unmapped ++ dropped,
                      written: [{name, type, id, value} | acc.written]
                  }}}

              error ->
                {:halt, error}
            end
          end)
        end

      case result do
        {:ok, acc} -> {:cont, {:ok, acc}}
        error -> {:halt, error}
      end
    end)
  end

  defp write_key(type, id, value, staging, version) do
    name = Folder.file(type, id)
    convert = &Keys.to_js(type, &1, version)

    with {:ok, js, dropped} <- to_js(name, {:key, type}, value, convert),
         js = Extras.put_js(type, value, js),
         :ok <- Staging.write(Path.join(staging, name), JSON.encode(js)),
         do: {:ok, name, dropped}
  end

  # Term -> BaileysEx JSON (the NIF's codec) -> JS value.
  defp to_js(file, slot, term, fun) do
    with {:encoded, {:ok, bytes}} <- {:encoded, NIF.encode(:json, slot, term)},
         {:parsed, {:ok, ex}} <- {:parsed, JSON.decode(IO.iodata_to_binary(bytes))},
         {:converted, {:ok, js, dropped}} <- {:converted, Convert.run(fn -> fun.(ex) end)} do
      {:ok, js, Enum.map(dropped, fn {field, why} -> %{file: file, field: field, why: why} end)}
    else
      {:encoded, {:error, reason}} -> {:error, {:cannot_convert, file, nil, reason}}
      {:parsed, {:error, reason}} -> {:error, {:cannot_convert, file, nil, reason}}
      {:converted, {:error, {field, reason}}} -> {:error, {:cannot_convert, file, field, reason}}
    end
  end

  # Reads every written file as an import would and compares with the
  # source terms; a file that does not parse or convert fails the export.
  defp read_back(staging, state, written, local_identity) do
    ctx = %{local_identity: local_identity}

    with {:ok, creds, _js} <- import_file(staging, "creds.json", :credentials, &Creds.to_ex/1) do
      first = if creds == state, do: [], else: [{:creds, state, creds}]

      written
      |> Enum.reverse()
      |> Enum.reduce_while({:ok, first}, fn {name, type, id, value}, {:ok, acc} ->
        case import_file(staging, name, {:key, type}, &Keys.to_ex(type, &1, ctx)) do
          {:ok, back, js} ->
            case Extras.put_ex(type, js, back) do
              ^value -> {:cont, {:ok, acc}}
              back -> {:cont, {:ok, acc ++ [{{type, id}, value, back}]}}
            end

          error ->
            {:halt, error}
        end
      end)
    end
  end

  defp import_file(dir, name, slot, fun) do
    with {:ok, js} <- Folder.read(Path.join(dir, name)),
         {:ok, ex, _dropped} <- Convert.run(fn -> fun.(js) end) |> named(name),
         {:ok, term} <- decode(name, :json, slot, IO.iodata_to_binary(JSON.encode(ex))),
         do: {:ok, term, js}
  end

  defp named({:error, {field, reason}}, name),
    do: {:error, {:read_back_failed, name, field, reason}}

  defp named(ok, _name), do: ok
end
