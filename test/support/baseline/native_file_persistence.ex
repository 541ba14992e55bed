defmodule BaileysEx.Auth.NIF.Baseline.NativeFilePersistence do
  @moduledoc """
  Pure-Elixir twin of `BaileysEx.Auth.NativeFilePersistence` (ETF files), used
  by tests and benchmarks when the real library is not installed. Never
  shipped.

  It does the same work per call as the original (contract section 3)
  through `BaileysEx.Auth.NIF.Baseline.FileBackend`: fully synced writes
  (temp file, fsync, rename, directory fsync) for data and manifest, a
  directory fsync after a removal, and a full manifest rewrite on every save
  and delete. Files hold `:erlang.term_to_binary/1`, read back with
  `:erlang.binary_to_term(bin, [:safe])`.
  """

  use BaileysEx.Auth.NIF.Baseline.FileBackend,
    default_dir: "baileys_native_auth_info",
    manifest_file: ".baileys_ex_native_file_persistence.etf",
    creds_file: "creds.etf",
    ext: ".etf",
    backend_id: "native_file_persistence",
    durable_data?: true

  alias BaileysEx.Auth.NIF.Baseline.FileBackend

  @typedoc "What `use_native_file_auth_state/1` returns on success."
  @type auth_state_result :: FileBackend.auth_state()

  @doc """
  Loads the credentials in `path` and returns them with the connect options
  for the file-backed key store and a `save_creds` function.
  """
  @spec use_native_file_auth_state(Path.t()) :: {:ok, auth_state_result()} | {:error, term()}
  def use_native_file_auth_state(path \\ default_path()) when is_binary(path),
    do: FileBackend.auth_state(@backend, path)

  @impl FileBackend
  def encode_data(_kind, value), do: :erlang.term_to_binary(value)

  @impl FileBackend
  def decode_data(_kind, bin), do: {:ok, :erlang.binary_to_term(bin, [:safe])}

  @impl FileBackend
  def encode_manifest(manifest), do: :erlang.term_to_binary(manifest)

  @impl FileBackend
  def decode_manifest(bin), do: {:ok, :erlang.binary_to_term(bin, [:safe])}

  @impl FileBackend
  def check_credentials(_state), do: :ok

  @impl FileBackend
  def credentials_error(other), do: {:error, {:invalid_credentials_data, other}}
end
