defmodule BaileysEx.Auth.NIF.Backend do
  @moduledoc false
  # The public callbacks both drop-ins export, written once. Each function
  # passes the context (or nil) to `Common` with the backend's name and the
  # module, which the originals name in their errors; Rust resolves the
  # directory, locks, reads and writes.

  defmacro __using__(opts) do
    backend = Keyword.fetch!(opts, :backend)
    helper = Keyword.fetch!(opts, :helper)

    quote do
      @behaviour_module BaileysEx.Auth.Persistence
      if Code.ensure_loaded?(@behaviour_module), do: @behaviour(@behaviour_module)

      alias BaileysEx.Auth.NIF.Common

      @backend unquote(backend)

      @typedoc "An auth directory, or nil for the configured default."
      @type context :: Path.t() | nil

      @doc """
      Loads the credentials from `path` (nil for the configured default) and
      returns the state, a `save_creds` function and the `connect_opts` that
      make BaileysEx persist every Signal key through this module.

      `connect_opts` name `BaileysEx.Auth.NIF.KeyStore` as the Signal store;
      `signal_store_module: BaileysEx.Auth.KeyStore` in `opts` keeps
      BaileysEx's own store (any store module taking `persistence_module` and
      `persistence_context` options can be named). `save_creds` saves a
      `%BaileysEx.Auth.State{}` as is, projects any other map through
      `State.creds_view/1`, and saves fresh credentials for anything else.
      """
      @spec unquote(helper)(context(), keyword()) :: {:ok, map()} | {:error, term()}
      def unquote(helper)(path \\ nil, opts \\ []),
        do: Common.auth_state_helper(__MODULE__, @backend, path, opts)

      @doc "Loads the credentials from the default directory."
      @spec load_credentials() :: {:ok, struct()} | {:error, term()}
      def load_credentials, do: load_credentials(nil)

      @doc """
      Loads the credentials from `context`. A missing file gives fresh
      credentials (`BaileysEx.Auth.State.new/0`); nothing is written.
      """
      @spec load_credentials(context()) :: {:ok, struct()} | {:error, term()}
      def load_credentials(context),
        do: Common.load_credentials(__MODULE__, @backend, context, default())

      @doc "Saves the credentials into the default directory."
      @spec save_credentials(struct()) :: :ok | {:error, term()}
      def save_credentials(state), do: save_credentials(nil, state)

      @doc "Saves the credentials into `context`."
      @spec save_credentials(context(), struct()) :: :ok | {:error, term()}
      def save_credentials(context, state),
        do: Common.save_credentials(__MODULE__, @backend, context, default(), state)

      @doc "Loads one key from the default directory."
      @spec load_keys(atom(), term()) :: {:ok, term()} | {:error, term()}
      def load_keys(type, id), do: load_keys(nil, type, id)

      @doc "Loads one key; a missing key is `{:error, :not_found}`."
      @spec load_keys(context(), atom(), term()) :: {:ok, term()} | {:error, term()}
      def load_keys(context, type, id),
        do: Common.load_key(__MODULE__, @backend, context, default(), type, id)

      @doc "Saves one key into the default directory."
      @spec save_keys(atom(), term(), term()) :: :ok | {:error, term()}
      def save_keys(type, id, value), do: save_keys(nil, type, id, value)

      @doc "Saves one key and records its id in the manifest."
      @spec save_keys(context(), atom(), term(), term()) :: :ok | {:error, term()}
      def save_keys(context, type, id, value),
        do: Common.save_key(__MODULE__, @backend, context, default(), type, id, value)

      @doc "Deletes one key from the default directory."
      @spec delete_keys(atom(), term()) :: :ok | {:error, term()}
      def delete_keys(type, id), do: delete_keys(nil, type, id)

      @doc "Deletes one key; a missing key is `:ok`."
      @spec delete_keys(context(), atom(), term()) :: :ok | {:error, term()}
      def delete_keys(context, type, id),
        do: Common.delete_key(__MODULE__, @backend, context, default(), type, id)

      @doc """
      Lists persisted key ids by type: the manifest's index merged with a scan
      of the directory, exactly as the original lists them (the scan is lossy:
      `alice/device:0` is also found as `alice/device-0`).
      """
      @spec list_persisted_keys(context()) ::
              {:ok, %{optional(atom()) => [String.t()]}} | {:error, term()}
      def list_persisted_keys(context),
        do: Common.list_keys(__MODULE__, @backend, context, default())

      @typedoc """
      What a commit changes: for each key type, each id's new value, or nil
      to delete it.
      """
      @type changes :: %{optional(atom()) => %{optional(term()) => term() | nil}}

      @doc "Commits `changes` in the default directory; see `commit/3`."
      @spec commit(changes()) :: :ok | {:error, term()}
      def commit(changes), do: commit(nil, changes, [])

      @doc """
      Saves and deletes many keys, and optionally the credentials, all
      together or not at all, durable once `:ok` is returned. Beyond the
      original, which saves one key per call.

      `changes` maps each key type to `%{id => value}`; a nil value deletes
      the key. Types and ids are checked as `save_keys` checks them, and any
      entry it would refuse (or a value that cannot be stored) refuses the
      whole commit before anything is written. The only option,
      `credentials: %BaileysEx.Auth.State{}`, saves the credentials in the
      same commit.

      The directory is left exactly as the same `save_credentials`,
      `save_keys` and `delete_keys` calls made one by one leave it, in the
      maps' order (credentials first); two ids that name one file (`7` and
      `"7"`) are applied in that order too. After a crash at any instant the
      directory holds all of the commit or none of it, once this module has
      opened it again. At most 65,536 changes and 256 MiB of encoded values
      per commit, else `{:error, {:commit_too_large, :mutations | :bytes,
      count, max}}`.
      """
      @spec commit(context(), changes(), keyword()) :: :ok | {:error, term()}
      def commit(context, changes, opts \\ []),
        do: Common.commit(__MODULE__, @backend, context, default(), changes, opts)

      @doc "Loads many keys of one type from the default directory; see `load_many/3`."
      @spec load_many(atom(), [term()]) :: {:ok, map()} | {:error, term()}
      def load_many(type, ids), do: load_many(nil, type, ids)

      @doc """
      Loads the keys of `type` named by `ids` at once, reading the files in
      parallel: `{:ok, %{id => value}}` keyed by the ids as given, a missing
      key absent. Beyond the original. A file `load_keys` would fail on
      fails the whole call with the same reason.
      """
      @spec load_many(context(), atom(), [term()]) :: {:ok, map()} | {:error, term()}
      def load_many(context, type, ids),
        do: Common.load_many(__MODULE__, @backend, context, default(), type, ids)

      defp default, do: Common.configured_path(__MODULE__)
    end
  end
end
