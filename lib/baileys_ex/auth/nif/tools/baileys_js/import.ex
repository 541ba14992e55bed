defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Import do
  @moduledoc false
  # Baileys JS folder -> BaileysEx directory. Each JS file is parsed,
  # converted to BaileysEx's JSON dialect, and decoded into terms by the
  # NIF's JSON codec: the terms are exactly what BaileysEx's JSON backend
  # would load, built by the code that already builds them (structs
  # included, atoms only from its fixed lists). They are then saved through
  # the target drop-in into a staging folder and loaded back.

  alias BaileysEx.Auth.NIF.Tools.BaileysJS.{Convert, Creds, Extras, Folder, Keys}
  alias BaileysEx.Auth.NIF.Tools.{JSON, Layout, Staging, Verify}

  # Types Baileys JS 6.x never writes (7.x does).
  @seven_only [:"lid-mapping", :"device-list", :tctoken, :"identity-key"]

  @spec run(Path.t(), Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def run(source, target, opts) do
    with {:ok, to} <- backend(Keyword.get(opts, :to, :etf)),
         {:ok, names} <- list(source),
         {:ok, creds_js} <- creds(source, names) do
      Staging.run(target, Keyword.get(opts, :force, false), "importing", fn staging ->
        build(source, names, creds_js, staging, to)
      end)
      |> case do
        {:ok, report} -> {:ok, Map.merge(report, %{source: source, target: target})}
        error -> error
      end
    end
  end

  defp backend(to) when to in [:etf, :json], do: {:ok, to}
  defp backend(other), do: {:error, {:invalid_backend, other}}

  defp list(source) do
    case File.ls(source) do
      {:ok, names} -> {:ok, Enum.sort(names)}
      {:error, reason} -> {:error, {:cannot_list_source, source, reason}}
    end
  end

  # Without creds.json there is no device to import (and sessions need our
  # identity key, which libsignal does not keep per session).
  defp creds(source, names) do
    if "creds.json" in names,
      do: Folder.read(Path.join(source, "creds.json")),
      else: {:error, {:missing_creds, Path.join(source, "creds.json")}}
  end

  defp build(source, names, creds_js, staging, to) do
    module = Layout.module(to)

    with {:ok, state, dropped} <-
           convert("creds.json", :credentials, fn -> Creds.to_ex(creds_js) end),
         :ok <- save(:creds, fn -> module.save_credentials(staging, state) end),
         {:ok, back} <- module.load_credentials(staging),
         {:ok, local_identity} <- local_identity(state),
         ctx = %{local_identity: local_identity, keep_extras?: to == :etf},
         {:ok, acc} <- keys(source, names, staging, module, ctx),
         :ok <- check(staging, to) do
      acc = %{
        acc
        | unmapped: dropped ++ acc.unmapped,
          inexact: inexact(:creds, state, back) ++ acc.inexact
      }

      {:ok, report(acc, to)}
    end
  end

  # Our identity key as BaileysEx keeps it in sessions: 0x05 + 32 bytes.
  defp local_identity(%{signed_identity_key: %{public: <<public::binary-size(32)>>}}),
    do: {:ok, <<5>> <> public}

  defp local_identity(%{signed_identity_key: %{public: <<5, _::binary-size(32)>> = public}}),
    do: {:ok, public}

  defp local_identity(_state),
    do: {:error, {:invalid_file, "creds.json", "signedIdentityKey", :missing_or_not_32_bytes}}

  defp keys(source, names, staging, module, ctx) do
    acc0 = %{per_type: %{}, unmapped: [], inexact: []}

    Enum.reduce_while(names, {:ok, acc0}, fn name, {:ok, acc} ->
      path = Path.join(source, name)

      case {Folder.classify(name), File.lstat(path)} do
        {:creds, _} ->
          {:cont, {:ok, acc}}

        {{:key, type, id}, {:ok, %{type: :regular}}} ->
          case key(path, name, type, id, staging, module, ctx) do
            {:ok, dropped, inexact} ->
              {:cont,
               {:ok,
                %{
                  acc
                  | per_type: Map.update(acc.per_type, type, 1, &(&1 + 1)),
                    unmapped: acc.unmapped ++ dropped,
                    inexact: acc.inexact ++ inexact
                }}}

            {:error, _} = error ->
              {:halt, error}
          end

        _other ->
          why = "not a Baileys auth file (creds.json or <type>-<id>.json of a known type)"
          {:cont, {:ok, %{acc | unmapped: acc.unmapped ++ [%{file: name, field: nil, why: why}]}}}
      end
    end)
  end

  defp key(path, name, type, id, staging, module, ctx) do
    with {:ok, js} <- Folder.read(path),
         {:ok, value, dropped} <-
           convert(name, {:key, type}, fn -> Keys.to_ex(type, js, ctx) end),
         {value, dropped} = extras(type, js, value, dropped, ctx),
         :ok <- save({type, id}, fn -> module.save_keys(staging, type, id, value) end),
         {:ok, back} <- module.load_keys(staging, type, id) do
      {:ok, dropped, inexact({type, id}, value, back)}
    end
  end

  # ETF keeps what only Baileys JS has (see Extras); JSON has no place for it.
  defp extras(type, js, value, dropped, %{keep_extras?: true}),
    do: {Extras.put_ex(type, js, value), Enum.reject(dropped, &Extras.kept?(type, &1.field))}

  defp extras(_type, _js, value, dropped, _ctx), do: {value, dropped}

  # JS value -> BaileysEx JSON -> term, with the dropped fields of the file.
  defp convert(file, slot, fun) do
    with {:converted, {:ok, ex, dropped}} <- {:converted, Convert.run(fun)},
         bytes = IO.iodata_to_binary(JSON.encode(ex)),
         {:decoded, {:ok, term}} <- {:decoded, Layout.decode(:json, slot, bytes)} do
      {:ok, term, Enum.map(dropped, fn {field, why} -> %{file: file, field: field, why: why} end)}
    else
      {:converted, {:error, {field, reason}}} -> {:error, {:invalid_file, file, field, reason}}
      {:decoded, {:error, reason}} -> {:error, {:invalid_file, file, nil, reason}}
    end
  end

  defp save(what, fun) do
    case fun.() do
      :ok -> :ok
      {:error, reason} -> {:error, {:target_cannot_hold, what, reason}}
    end
  end

  defp inexact(_what, same, same), do: []
  defp inexact(what, value, back), do: [{what, value, back}]

  defp check(staging, to) do
    case Verify.run(staging, backend: to) do
      {:ok, %{status: :damaged} = report} -> {:error, {:staging_damaged, report}}
      {:ok, _report} -> :ok
      {:error, _reason} = error -> error
    end
  end

  defp report(acc, to) do
    %{
      to: to,
      creds?: true,
      keys: acc.per_type |> Map.values() |> Enum.sum(),
      per_type: acc.per_type,
      unmapped: acc.unmapped,
      inexact: acc.inexact,
      absent: Enum.reject(Layout.types(), &Map.has_key?(acc.per_type, &1)),
      baileys_7_types: Enum.filter(@seven_only, &Map.has_key?(acc.per_type, &1))
    }
  end
end
