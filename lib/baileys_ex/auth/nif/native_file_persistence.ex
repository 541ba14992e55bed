defmodule BaileysEx.Auth.NIF.NativeFilePersistence do
  @moduledoc """
  Drop-in replacement for `BaileysEx.Auth.NativeFilePersistence`, implemented
  in Rust.

  It reads and writes the same directory: the same ETF files, byte for byte,
  under the same sanitised names, and the same manifest. Swap the module and
  existing auth directories keep working.

  What it does beyond the original:

    * real per-file locking for any number of processes, so concurrent saves
      never lose a manifest update and different files are written in parallel;
    * the manifest is rewritten only when its content changes, and decoded
      only when its bytes change;
    * loads every file BaileysEx writes in a fresh VM, while still refusing
      atoms that are not part of BaileysEx's auth data;
    * orphan `*.tmp-*` files from crashed writes are removed when a directory
      is first opened;
    * bad arguments return `{:error, reason}` instead of raising.

  The directory for the context-free functions is
  `config :baileys_ex_nif_persistence, #{inspect(__MODULE__)}, path: "..."`,
  else `baileys_native_auth_info` in the current working directory.
  """

  @behaviour_module BaileysEx.Auth.Persistence
  if Code.ensure_loaded?(@behaviour_module), do: @behaviour(@behaviour_module)

  alias BaileysEx.Auth.NIF.Common

  @compile {:no_warn_undefined, [BaileysEx.Auth.State]}

  @backend :etf

  @typedoc "An auth directory, or nil for the configured default."
  @type context :: Path.t() | nil

  @doc """
  Loads the credentials and returns the state with the options that make
  BaileysEx's built-in Signal store persist keys through this module.
  """
  @spec use_native_file_auth_state(context()) :: {:ok, map()} | {:error, term()}
  def use_native_file_auth_state(path \\ nil),
    do: Common.auth_state_helper(__MODULE__, @backend, path)

  @doc "Loads the credentials from the default directory."
  @spec load_credentials() :: {:ok, struct()} | {:error, term()}
  def load_credentials, do: load_credentials(nil)

  @doc """
  Loads the credentials from `context`. A missing file gives fresh
  credentials (`BaileysEx.Auth.State.new/0`); nothing is written.
  """
  @spec load_credentials(context()) :: {:ok, struct()} | {:error, term()}
  def load_credentials(context), do: Common.load_credentials(@backend, context, default())

  @doc "Saves the credentials into the default directory."
  @spec save_credentials(struct()) :: :ok | {:error, term()}
  def save_credentials(state), do: save_credentials(nil, state)

  @doc "Saves the credentials into `context`."
  @spec save_credentials(context(), struct()) :: :ok | {:error, term()}
  def save_credentials(context, state),
    do: Common.save_credentials(@backend, context, default(), state)

  @doc "Loads one key from the default directory."
  @spec load_keys(atom(), term()) :: {:ok, term()} | {:error, term()}
  def load_keys(type, id), do: load_keys(nil, type, id)

  @doc "Loads one key; a missing key is `{:error, :not_found}`."
  @spec load_keys(context(), atom(), term()) :: {:ok, term()} | {:error, term()}
  def load_keys(context, type, id), do: Common.load_key(@backend, context, default(), type, id)

  @doc "Saves one key into the default directory."
  @spec save_keys(atom(), term(), term()) :: :ok | {:error, term()}
  def save_keys(type, id, value), do: save_keys(nil, type, id, value)

  @doc "Saves one key and records its id in the manifest."
  @spec save_keys(context(), atom(), term(), term()) :: :ok | {:error, term()}
  def save_keys(context, type, id, value),
    do: Common.save_key(@backend, context, default(), type, id, value)

  @doc "Deletes one key from the default directory."
  @spec delete_keys(atom(), term()) :: :ok | {:error, term()}
  def delete_keys(type, id), do: delete_keys(nil, type, id)

  @doc "Deletes one key; a missing key is `:ok`."
  @spec delete_keys(context(), atom(), term()) :: :ok | {:error, term()}
  def delete_keys(context, type, id),
    do: Common.delete_key(@backend, context, default(), type, id)

  @doc """
  Lists persisted key ids by type: the manifest's index merged with a scan of
  the directory, exactly as the original lists them.
  """
  @spec list_persisted_keys(context()) ::
          {:ok, %{optional(atom()) => [String.t()]}} | {:error, term()}
  def list_persisted_keys(context), do: Common.list_keys(@backend, context, default())

  defp default, do: Common.configured_path(__MODULE__)
end
