defmodule BaileysEx.Auth.NIF.Baseline.NativeFilePersistence do
  @moduledoc """
  Pure-Elixir twin of `BaileysEx.Auth.NativeFilePersistence` (ETF files), used
  by tests and benchmarks when the real library is not installed. Never
  shipped.

  It does the same work per call as the original (contract section 3):
  `mkdir -p` and a full manifest read and validation on every public call,
  one `:global.trans({__MODULE__, file_path}, fun)` per file access (keyed
  the same way as the original, including its lock-keying flaw, section 7),
  fully synced writes (temp file, fsync, rename, directory fsync) for data
  and manifest, a directory fsync after a removal, and a full manifest
  rewrite on every save and delete.
  """

  alias BaileysEx.Auth.NIF.Baseline.IO, as: AtomicIO
  alias BaileysEx.Auth.NIF.Baseline.KeyIndex
  alias BaileysEx.Auth.State

  @default_dir "baileys_native_auth_info"
  @manifest_file ".baileys_ex_native_file_persistence.etf"
  @creds_file "creds.etf"
  @ext ".etf"
  @backend_id "native_file_persistence"

  @typedoc "What `use_native_file_auth_state/1` returns on success."
  @type auth_state_result :: %{
          state: State.t(),
          connect_opts: keyword(),
          save_creds: (State.t() | map() -> :ok | {:error, term()})
        }

  @doc """
  Loads the credentials in `path` and returns them with the connect options
  for the file-backed key store and a `save_creds` function.
  """
  @spec use_native_file_auth_state(Path.t()) :: {:ok, auth_state_result()} | {:error, term()}
  def use_native_file_auth_state(path \\ default_path()) when is_binary(path) do
    with {:ok, %State{} = state} <- load_credentials(path) do
      {:ok,
       %{
         state: state,
         connect_opts: [
           signal_store_module: BaileysEx.Auth.KeyStore,
           signal_store_opts: [persistence_module: __MODULE__, persistence_context: path]
         ],
         save_creds: fn creds -> save_credentials(path, as_state(creds)) end
       }}
    end
  end

  @doc "Loads the credentials from the default directory."
  @spec load_credentials() :: {:ok, State.t()} | {:error, term()}
  def load_credentials, do: load_credentials(default_path())

  @doc """
  Loads the credentials from `path`; a missing file gives a fresh
  `State.new()`.
  """
  @spec load_credentials(Path.t()) :: {:ok, State.t()} | {:error, term()}
  def load_credentials(path) when is_binary(path) do
    with :ok <- prepare(path) do
      case read_term(path, @creds_file) do
        {:ok, nil} -> {:ok, State.new()}
        {:ok, %State{} = state} -> {:ok, state}
        {:ok, %{} = fields} -> {:ok, struct(State, fields)}
        {:ok, other} -> {:error, {:invalid_credentials_data, other}}
        {:error, _reason} = error -> error
      end
    end
  end

  @doc "Saves the credentials into the default directory."
  @spec save_credentials(State.t()) :: :ok | {:error, term()}
  def save_credentials(%State{} = state), do: save_credentials(default_path(), state)

  @doc "Saves the credentials into `path`, then rewrites the manifest."
  @spec save_credentials(Path.t(), State.t()) :: :ok | {:error, term()}
  def save_credentials(path, %State{} = state) when is_binary(path) do
    with :ok <- prepare(path),
         :ok <- write_term(path, @creds_file, state) do
      update_manifest(path, & &1)
    end
  end

  @doc "Loads one key from the default directory."
  @spec load_keys(atom(), term()) :: {:ok, term()} | {:error, term()}
  def load_keys(type, id), do: load_keys(default_path(), type, id)

  @doc "Loads one key from `path`; a missing file is `{:error, :not_found}`."
  @spec load_keys(Path.t(), atom(), term()) :: {:ok, term()} | {:error, term()}
  def load_keys(path, type, id) when is_binary(path) and is_atom(type) do
    with :ok <- prepare(path) do
      case read_term(path, KeyIndex.file_name(type, id, @ext)) do
        {:ok, nil} -> {:error, :not_found}
        {:ok, value} -> {:ok, value}
        {:error, _reason} = error -> error
      end
    end
  end

  @doc "Saves one key into the default directory."
  @spec save_keys(atom(), term(), term()) :: :ok | {:error, term()}
  def save_keys(type, id, value), do: save_keys(default_path(), type, id, value)

  @doc "Saves one key into `path`, then adds its id to the manifest."
  @spec save_keys(Path.t(), atom(), term(), term()) :: :ok | {:error, term()}
  def save_keys(path, type, id, value) when is_binary(path) and is_atom(type) do
    with :ok <- prepare(path),
         :ok <- write_term(path, KeyIndex.file_name(type, id, @ext), value) do
      update_manifest(path, &KeyIndex.put_id(&1, type, id))
    end
  end

  @doc "Deletes one key from the default directory."
  @spec delete_keys(atom(), term()) :: :ok | {:error, term()}
  def delete_keys(type, id), do: delete_keys(default_path(), type, id)

  @doc """
  Deletes one key from `path` (a missing file is fine), then drops its id
  from the manifest if there is one.
  """
  @spec delete_keys(Path.t(), atom(), term()) :: :ok | {:error, term()}
  def delete_keys(path, type, id) when is_binary(path) and is_atom(type) do
    with :ok <- prepare(path),
         :ok <- remove_term(path, KeyIndex.file_name(type, id, @ext)) do
      case read_manifest(path) do
        {:ok, nil} -> :ok
        {:ok, _manifest} -> update_manifest(path, &KeyIndex.drop_id(&1, type, id))
        {:error, _reason} = error -> error
      end
    end
  end

  @doc """
  Lists the persisted keys of `path`: the manifest index merged with a scan
  of the directory (lossy for sanitised ids, as in the original).
  """
  @spec list_persisted_keys(Path.t()) :: {:ok, KeyIndex.listing()} | {:error, term()}
  def list_persisted_keys(path) when is_binary(path) do
    with :ok <- mkdir(path),
         {:ok, manifest} <- read_manifest(path),
         {:ok, entries} <- File.ls(path) do
      scanned = KeyIndex.scan(entries, @ext, @creds_file, @manifest_file)
      {:ok, KeyIndex.merge(KeyIndex.manifest_listing(manifest), scanned)}
    end
  end

  defp default_path, do: Path.join(File.cwd!(), @default_dir)

  defp prepare(path) do
    with :ok <- mkdir(path),
         {:ok, _manifest} <- read_manifest(path),
         do: :ok
  end

  defp mkdir(path), do: File.mkdir_p(path)

  defp manifest_path(path), do: Path.join(path, @manifest_file)

  defp read_manifest(path) do
    case File.read(manifest_path(path)) do
      {:ok, bin} ->
        bin |> :erlang.binary_to_term([:safe]) |> KeyIndex.check(@backend_id, __MODULE__)

      {:error, :enoent} ->
        {:ok, nil}

      {:error, _reason} = error ->
        error
    end
  rescue
    e in ArgumentError -> {:error, {:invalid_persistence_metadata, __MODULE__, e}}
  end

  defp update_manifest(path, change) do
    file = manifest_path(path)

    with_file_lock(file, fn ->
      with {:ok, manifest} <- read_manifest(path) do
        # A manifest read back is already normalised; a missing one starts empty.
        updated =
          (manifest || KeyIndex.normalize(%{}, @backend_id))
          |> change.()
          |> KeyIndex.normalize(@backend_id)

        AtomicIO.atomic_write(file, :erlang.term_to_binary(updated))
      end
    end)
  end

  defp read_term(path, name) do
    file = Path.join(path, KeyIndex.sanitize(name))

    with_file_lock(file, fn ->
      case File.read(file) do
        {:ok, bin} -> {:ok, :erlang.binary_to_term(bin, [:safe])}
        {:error, :enoent} -> {:ok, nil}
        {:error, _reason} = error -> error
      end
    end)
  rescue
    e in ArgumentError -> {:error, e}
  end

  defp write_term(path, name, value) do
    file = Path.join(path, KeyIndex.sanitize(name))
    with_file_lock(file, fn -> AtomicIO.atomic_write(file, :erlang.term_to_binary(value)) end)
  end

  defp remove_term(path, name) do
    file = Path.join(path, KeyIndex.sanitize(name))

    with_file_lock(file, fn ->
      case File.rm(file) do
        :ok -> AtomicIO.sync_parent_directory(file)
        {:error, :enoent} -> :ok
        {:error, _reason} = error -> error
      end
    end)
  end

  # Same lock id as the original: the module is the resource and the file the
  # requester, so this does not exclude two writers of one file.
  defp with_file_lock(file_path, fun), do: :global.trans({__MODULE__, file_path}, fun)

  defp as_state(%State{} = state), do: state
  defp as_state(%{} = map), do: struct(State, State.creds_view(map))
  defp as_state(_other), do: State.new()
end
