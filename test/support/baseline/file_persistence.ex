defmodule BaileysEx.Auth.NIF.Baseline.FilePersistence do
  @moduledoc """
  Pure-Elixir twin of `BaileysEx.Auth.FilePersistence` (Baileys-style JSON
  files), used by tests and benchmarks when the real library is not
  installed. Never shipped.

  It does the same work per call as the original (contract sections 3 and 5):
  `mkdir -p` and a full manifest read and validation on every public call,
  one `:global.trans({__MODULE__, file_path}, fun)` per file access (keyed
  the same way as the original, including its lock-keying flaw, section 7),
  data files written by temp file + rename WITHOUT any fsync, the manifest
  fully synced and rewritten whole on every save and delete. Values go
  through the explicit per-type codecs of
  `BaileysEx.Auth.NIF.Baseline.JSONTerms`; JSON text through
  `BaileysEx.Auth.NIF.Baseline.JSONCodec`.
  """

  alias BaileysEx.Auth.NIF.Baseline.IO, as: AtomicIO
  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.Baseline.JSONTerms
  alias BaileysEx.Auth.NIF.Baseline.KeyIndex
  alias BaileysEx.Auth.State

  @default_dir "baileys_auth_info"
  @manifest_file ".baileys_ex_file_persistence.json"
  @creds_file "creds.json"
  @ext ".json"
  @backend_id "file_persistence"

  @typedoc "What `use_multi_file_auth_state/1` returns on success."
  @type multi_file_auth_state :: %{
          state: State.t(),
          connect_opts: keyword(),
          save_creds: (State.t() | map() -> :ok | {:error, term()})
        }

  @doc """
  Loads the credentials in `path` and returns them with the connect options
  for the file-backed key store and a `save_creds` function.
  """
  @spec use_multi_file_auth_state(Path.t()) ::
          {:ok, multi_file_auth_state()} | {:error, term()}
  def use_multi_file_auth_state(path \\ default_path()) when is_binary(path) do
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
      case read_data(path, @creds_file, &JSONTerms.decode_credentials/1) do
        {:ok, nil} -> {:ok, State.new()}
        {:ok, %State{} = state} -> {:ok, state}
        {:ok, fields} when is_map(fields) -> {:ok, struct(State, fields)}
        {:error, _reason} = error -> error
      end
    end
  end

  @doc "Saves the credentials into the default directory."
  @spec save_credentials(State.t()) :: :ok | {:error, term()}
  def save_credentials(%State{} = state), do: save_credentials(default_path(), state)

  @doc """
  Saves the credentials into `path` (after checking that `additional_data`
  is JSON-safe), then rewrites the manifest.
  """
  @spec save_credentials(Path.t(), State.t()) :: :ok | {:error, term()}
  def save_credentials(path, %State{} = state) when is_binary(path) do
    with :ok <- JSONTerms.validate_additional_data(state.additional_data),
         :ok <- prepare(path),
         :ok <- write_data(path, @creds_file, state, &JSONTerms.encode_credentials/1) do
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
      case read_data(path, KeyIndex.file_name(type, id, @ext), &JSONTerms.decode_key(type, &1)) do
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
    encode = &JSONTerms.encode_key(type, &1)

    with :ok <- prepare(path),
         :ok <- write_data(path, KeyIndex.file_name(type, id, @ext), value, encode) do
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
         :ok <- remove_data(path, KeyIndex.file_name(type, id, @ext)) do
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
      {:ok, text} -> decode_manifest(text)
      {:error, :enoent} -> {:ok, nil}
      {:error, _reason} = error -> error
    end
  rescue
    e in ArgumentError -> {:error, {:invalid_persistence_metadata, __MODULE__, e}}
  end

  defp decode_manifest(text) do
    case JSONCodec.decode(text) do
      {:ok, decoded} -> KeyIndex.check(decoded, @backend_id, __MODULE__)
      {:error, reason} -> {:error, {:invalid_persistence_metadata, __MODULE__, reason}}
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

        write_manifest(file, updated)
      end
    end)
  end

  defp write_manifest(file, manifest) do
    AtomicIO.atomic_write(file, JSONCodec.encode!(manifest))
  rescue
    e in ArgumentError -> {:error, {:invalid_persistence_metadata, __MODULE__, e}}
  end

  defp read_data(path, name, decode) do
    file = Path.join(path, KeyIndex.sanitize(name))

    with_file_lock(file, fn ->
      case File.read(file) do
        {:ok, text} ->
          case JSONCodec.decode(text) do
            {:ok, nil} -> {:ok, nil}
            {:ok, json} -> {:ok, decode.(json)}
            {:error, _reason} = error -> error
          end

        {:error, :enoent} ->
          {:ok, nil}

        {:error, _reason} = error ->
          error
      end
    end)
  rescue
    e in ArgumentError -> {:error, e}
  end

  defp write_data(path, name, value, encode) do
    file = Path.join(path, KeyIndex.sanitize(name))

    with_file_lock(file, fn ->
      text = value |> encode.() |> JSONCodec.encode!()
      AtomicIO.atomic_write(file, text, fsync?: false, sync_parent?: false)
    end)
  rescue
    e in ArgumentError -> {:error, e}
  end

  defp remove_data(path, name) do
    file = Path.join(path, KeyIndex.sanitize(name))

    with_file_lock(file, fn ->
      case File.rm(file) do
        :ok -> :ok
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
