defmodule BaileysEx.Auth.NIF.Baseline.FileBackend do
  @moduledoc """
  What the two pure-Elixir baseline twins do alike, written once (contract
  sections 3, 4 and 7): `mkdir -p` and a full manifest read and validation on
  every public call, one `:global.trans({module, file_path}, fun)` per file
  access, replace-by-rename writes, the manifest rewritten whole on every
  save and delete, and the listing.

  A twin says `use BaileysEx.Auth.NIF.Baseline.FileBackend` with its names on
  disk (`default_dir`, `manifest_file`, `creds_file`, `ext`, `backend_id`)
  and `durable_data?` (whether data files are fsynced and a removal is
  followed by a directory sync; the manifest always is). That defines the
  public persistence API in the twin, and the twin implements the callbacks
  below for its encoding. The twin's module is the lock resource, the module
  named in error tuples and the persistence module of the connect options.
  """

  alias BaileysEx.Auth.NIF.Baseline.FileBackend
  alias BaileysEx.Auth.NIF.Baseline.IO, as: AtomicIO
  alias BaileysEx.Auth.NIF.Baseline.KeyIndex
  alias BaileysEx.Auth.State

  @typedoc "What a data file holds: the credentials or one key of a type."
  @type kind :: :creds | {:key, atom()}

  @typedoc "A twin: its module and its names on disk (see the moduledoc)."
  @type t :: %{
          module: module(),
          default_dir: String.t(),
          manifest_file: String.t(),
          creds_file: String.t(),
          ext: String.t(),
          backend_id: String.t(),
          durable_data?: boolean()
        }

  @typedoc "What a twin's `use_*_auth_state/1` returns on success."
  @type auth_state :: %{
          state: State.t(),
          connect_opts: keyword(),
          save_creds: (State.t() | map() -> :ok | {:error, term()})
        }

  @doc """
  Encodes a data file's value. May raise `ArgumentError`, which the caller
  gets as `{:error, %ArgumentError{}}`.
  """
  @callback encode_data(kind(), term()) :: iodata()

  @doc """
  Decodes a data file; `{:ok, nil}` reads as a missing file. May raise
  `ArgumentError`, which the caller gets as `{:error, %ArgumentError{}}`.
  """
  @callback decode_data(kind(), binary()) :: {:ok, term()} | {:error, term()}

  @doc "Encodes the manifest map. May raise `ArgumentError`."
  @callback encode_manifest(map()) :: iodata()

  @doc "Decodes the manifest file before it is checked. May raise `ArgumentError`."
  @callback decode_manifest(binary()) :: {:ok, term()} | {:error, term()}

  @doc "Checks the credentials before anything is written."
  @callback check_credentials(State.t()) :: :ok | {:error, term()}

  @doc "What loading gives for a creds file that decoded to neither nil nor a map."
  @callback credentials_error(term()) :: {:error, term()}

  defmacro __using__(opts) do
    quote bind_quoted: [opts: opts] do
      @behaviour FileBackend

      @backend opts |> Map.new() |> Map.put(:module, __MODULE__)

      @doc "Loads the credentials from the default directory."
      @spec load_credentials() :: {:ok, State.t()} | {:error, term()}
      def load_credentials, do: load_credentials(default_path())

      @doc """
      Loads the credentials from `path`; a missing file gives a fresh
      `State.new()`.
      """
      @spec load_credentials(Path.t()) :: {:ok, State.t()} | {:error, term()}
      def load_credentials(path) when is_binary(path),
        do: FileBackend.load_credentials(@backend, path)

      @doc "Saves the credentials into the default directory."
      @spec save_credentials(State.t()) :: :ok | {:error, term()}
      def save_credentials(%State{} = state), do: save_credentials(default_path(), state)

      @doc """
      Saves the credentials into `path` (after the twin's own check), then
      rewrites the manifest.
      """
      @spec save_credentials(Path.t(), State.t()) :: :ok | {:error, term()}
      def save_credentials(path, %State{} = state) when is_binary(path),
        do: FileBackend.save_credentials(@backend, path, state)

      @doc "Loads one key from the default directory."
      @spec load_keys(atom(), term()) :: {:ok, term()} | {:error, term()}
      def load_keys(type, id), do: load_keys(default_path(), type, id)

      @doc "Loads one key from `path`; a missing file is `{:error, :not_found}`."
      @spec load_keys(Path.t(), atom(), term()) :: {:ok, term()} | {:error, term()}
      def load_keys(path, type, id) when is_binary(path) and is_atom(type),
        do: FileBackend.load_keys(@backend, path, type, id)

      @doc "Saves one key into the default directory."
      @spec save_keys(atom(), term(), term()) :: :ok | {:error, term()}
      def save_keys(type, id, value), do: save_keys(default_path(), type, id, value)

      @doc "Saves one key into `path`, then adds its id to the manifest."
      @spec save_keys(Path.t(), atom(), term(), term()) :: :ok | {:error, term()}
      def save_keys(path, type, id, value) when is_binary(path) and is_atom(type),
        do: FileBackend.save_keys(@backend, path, type, id, value)

      @doc "Deletes one key from the default directory."
      @spec delete_keys(atom(), term()) :: :ok | {:error, term()}
      def delete_keys(type, id), do: delete_keys(default_path(), type, id)

      @doc """
      Deletes one key from `path` (a missing file is fine), then drops its id
      from the manifest if there is one.
      """
      @spec delete_keys(Path.t(), atom(), term()) :: :ok | {:error, term()}
      def delete_keys(path, type, id) when is_binary(path) and is_atom(type),
        do: FileBackend.delete_keys(@backend, path, type, id)

      @doc """
      Lists the persisted keys of `path`: the manifest index merged with a scan
      of the directory (lossy for sanitised ids, as in the original).
      """
      @spec list_persisted_keys(Path.t()) :: {:ok, KeyIndex.listing()} | {:error, term()}
      def list_persisted_keys(path) when is_binary(path),
        do: FileBackend.list_persisted_keys(@backend, path)

      defp default_path, do: FileBackend.default_path(@backend)
    end
  end

  @doc "The twin's directory under the current working directory."
  @spec default_path(t()) :: Path.t()
  def default_path(backend), do: Path.join(File.cwd!(), backend.default_dir)

  @doc """
  The credentials in `path` with the connect options for the file-backed key
  store and a `save_creds` function.
  """
  @spec auth_state(t(), Path.t()) :: {:ok, auth_state()} | {:error, term()}
  def auth_state(backend, path) do
    with {:ok, %State{} = state} <- load_credentials(backend, path) do
      {:ok,
       %{
         state: state,
         connect_opts: [
           signal_store_module: BaileysEx.Auth.KeyStore,
           signal_store_opts: [persistence_module: backend.module, persistence_context: path]
         ],
         save_creds: fn creds -> save_credentials(backend, path, as_state(creds)) end
       }}
    end
  end

  @doc "See the twin's `load_credentials/1`."
  @spec load_credentials(t(), Path.t()) :: {:ok, State.t()} | {:error, term()}
  def load_credentials(backend, path) do
    with :ok <- prepare(backend, path) do
      case read_data(backend, path, backend.creds_file, :creds) do
        {:ok, nil} -> {:ok, State.new()}
        {:ok, %State{} = state} -> {:ok, state}
        {:ok, %{} = fields} -> {:ok, struct(State, fields)}
        {:ok, other} -> backend.module.credentials_error(other)
        {:error, _reason} = error -> error
      end
    end
  end

  @doc "See the twin's `save_credentials/2`."
  @spec save_credentials(t(), Path.t(), State.t()) :: :ok | {:error, term()}
  def save_credentials(backend, path, state) do
    with :ok <- backend.module.check_credentials(state),
         :ok <- prepare(backend, path),
         :ok <- write_data(backend, path, backend.creds_file, :creds, state) do
      update_manifest(backend, path, & &1)
    end
  end

  @doc "See the twin's `load_keys/3`."
  @spec load_keys(t(), Path.t(), atom(), term()) :: {:ok, term()} | {:error, term()}
  def load_keys(backend, path, type, id) do
    with :ok <- prepare(backend, path) do
      case read_data(backend, path, key_file(backend, type, id), {:key, type}) do
        {:ok, nil} -> {:error, :not_found}
        {:ok, value} -> {:ok, value}
        {:error, _reason} = error -> error
      end
    end
  end

  @doc "See the twin's `save_keys/4`."
  @spec save_keys(t(), Path.t(), atom(), term(), term()) :: :ok | {:error, term()}
  def save_keys(backend, path, type, id, value) do
    with :ok <- prepare(backend, path),
         :ok <- write_data(backend, path, key_file(backend, type, id), {:key, type}, value) do
      update_manifest(backend, path, &KeyIndex.put_id(&1, type, id))
    end
  end

  @doc "See the twin's `delete_keys/3`."
  @spec delete_keys(t(), Path.t(), atom(), term()) :: :ok | {:error, term()}
  def delete_keys(backend, path, type, id) do
    with :ok <- prepare(backend, path),
         :ok <- remove_data(backend, path, key_file(backend, type, id)) do
      case read_manifest(backend, path) do
        {:ok, nil} -> :ok
        {:ok, _manifest} -> update_manifest(backend, path, &KeyIndex.drop_id(&1, type, id))
        {:error, _reason} = error -> error
      end
    end
  end

  @doc "See the twin's `list_persisted_keys/1`."
  @spec list_persisted_keys(t(), Path.t()) :: {:ok, KeyIndex.listing()} | {:error, term()}
  def list_persisted_keys(backend, path) do
    with :ok <- File.mkdir_p(path),
         {:ok, manifest} <- read_manifest(backend, path),
         {:ok, entries} <- File.ls(path) do
      %{ext: ext, creds_file: creds_file, manifest_file: manifest_file} = backend
      scanned = KeyIndex.scan(entries, ext, creds_file, manifest_file)
      {:ok, KeyIndex.merge(KeyIndex.manifest_listing(manifest), scanned)}
    end
  end

  defp key_file(backend, type, id), do: KeyIndex.file_name(type, id, backend.ext)

  defp prepare(backend, path) do
    with :ok <- File.mkdir_p(path),
         {:ok, _manifest} <- read_manifest(backend, path),
         do: :ok
  end

  defp manifest_path(backend, path), do: Path.join(path, backend.manifest_file)

  defp read_manifest(backend, path) do
    case File.read(manifest_path(backend, path)) do
      {:ok, bin} -> check_manifest(backend, bin)
      {:error, :enoent} -> {:ok, nil}
      {:error, _reason} = error -> error
    end
  rescue
    e in ArgumentError -> {:error, {:invalid_persistence_metadata, backend.module, e}}
  end

  defp check_manifest(backend, bin) do
    case backend.module.decode_manifest(bin) do
      {:ok, decoded} -> KeyIndex.check(decoded, backend.backend_id, backend.module)
      {:error, reason} -> {:error, {:invalid_persistence_metadata, backend.module, reason}}
    end
  end

  defp update_manifest(backend, path, change) do
    file = manifest_path(backend, path)

    with_file_lock(backend, file, fn ->
      with {:ok, manifest} <- read_manifest(backend, path) do
        # A manifest read back is already normalised; a missing one starts empty.
        updated =
          (manifest || KeyIndex.normalize(%{}, backend.backend_id))
          |> change.()
          |> KeyIndex.normalize(backend.backend_id)

        write_manifest(backend, file, updated)
      end
    end)
  end

  defp write_manifest(backend, file, manifest) do
    AtomicIO.atomic_write(file, backend.module.encode_manifest(manifest))
  rescue
    e in ArgumentError -> {:error, {:invalid_persistence_metadata, backend.module, e}}
  end

  defp read_data(backend, path, name, kind) do
    file = Path.join(path, KeyIndex.sanitize(name))

    with_file_lock(backend, file, fn ->
      case File.read(file) do
        {:ok, bin} -> backend.module.decode_data(kind, bin)
        {:error, :enoent} -> {:ok, nil}
        {:error, _reason} = error -> error
      end
    end)
  rescue
    e in ArgumentError -> {:error, e}
  end

  defp write_data(backend, path, name, kind, value) do
    file = Path.join(path, KeyIndex.sanitize(name))
    durable? = backend.durable_data?

    with_file_lock(backend, file, fn ->
      contents = backend.module.encode_data(kind, value)
      AtomicIO.atomic_write(file, contents, fsync?: durable?, sync_parent?: durable?)
    end)
  rescue
    e in ArgumentError -> {:error, e}
  end

  defp remove_data(backend, path, name) do
    file = Path.join(path, KeyIndex.sanitize(name))

    with_file_lock(backend, file, fn ->
      case File.rm(file) do
        :ok -> if backend.durable_data?, do: AtomicIO.sync_parent_directory(file), else: :ok
        {:error, :enoent} -> :ok
        {:error, _reason} = error -> error
      end
    end)
  end

  # Same lock id as the originals: the module is the resource and the file the
  # requester, so this does not exclude two writers of one file.
  defp with_file_lock(backend, file_path, fun),
    do: :global.trans({backend.module, file_path}, fun)

  defp as_state(%State{} = state), do: state
  defp as_state(%{} = map), do: struct(State, State.creds_view(map))
  defp as_state(_other), do: State.new()
end
