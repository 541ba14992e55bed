defmodule BaileysEx.Auth.NIF.Baseline.FilePersistence do
  @moduledoc """
  Pure-Elixir twin of `BaileysEx.Auth.FilePersistence` (Baileys-style JSON
  files), used by tests and benchmarks when the real library is not
  installed. Never shipped.

  It does the same work per call as the original (contract sections 3 and 5)
  through `BaileysEx.Auth.NIF.Baseline.FileBackend`: data files written by
  temp file + rename WITHOUT any fsync, the manifest fully synced and
  rewritten whole on every save and delete. Values go through the explicit
  per-type codecs of `BaileysEx.Auth.NIF.Baseline.JSONTerms`; JSON text
  through `BaileysEx.Auth.NIF.Baseline.JSONCodec`.
  """

  use BaileysEx.Auth.NIF.Baseline.FileBackend,
    default_dir: "baileys_auth_info",
    manifest_file: ".baileys_ex_file_persistence.json",
    creds_file: "creds.json",
    ext: ".json",
    backend_id: "file_persistence",
    durable_data?: false

  alias BaileysEx.Auth.NIF.Baseline.FileBackend
  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.Baseline.JSONTerms

  @typedoc "What `use_multi_file_auth_state/1` returns on success."
  @type multi_file_auth_state :: FileBackend.auth_state()

  @doc """
  Loads the credentials in `path` and returns them with the connect options
  for the file-backed key store and a `save_creds` function.
  """
  @spec use_multi_file_auth_state(Path.t()) ::
          {:ok, multi_file_auth_state()} | {:error, term()}
  def use_multi_file_auth_state(path \\ default_path()) when is_binary(path),
    do: FileBackend.auth_state(@backend, path)

  @impl FileBackend
  def encode_data(:creds, state),
    do: state |> JSONTerms.encode_credentials() |> JSONCodec.encode!()

  def encode_data({:key, type}, value), do: JSONCodec.encode!(JSONTerms.encode_key(type, value))

  @impl FileBackend
  def decode_data(kind, text) do
    case JSONCodec.decode(text) do
      {:ok, nil} -> {:ok, nil}
      {:ok, json} -> {:ok, decode_json(kind, json)}
      {:error, _reason} = error -> error
    end
  end

  defp decode_json(:creds, json), do: JSONTerms.decode_credentials(json)
  defp decode_json({:key, type}, json), do: JSONTerms.decode_key(type, json)

  @impl FileBackend
  def encode_manifest(manifest), do: JSONCodec.encode!(manifest)

  @impl FileBackend
  def decode_manifest(text), do: JSONCodec.decode(text)

  @impl FileBackend
  def check_credentials(state), do: JSONTerms.validate_additional_data(state.additional_data)

  # The original has no clause for this case: it crashes.
  @impl FileBackend
  def credentials_error(other), do: raise(CaseClauseError, term: {:ok, other})
end
