defmodule BaileysEx.Auth.NIF.Common do
  @moduledoc false
  # What both drop-ins share on the Elixir side: refusing arguments of the
  # wrong type (the NIFs take typed arguments), turning ids into strings, the
  # parts that need BaileysEx itself (`State.new/0`, `struct/2`), what the
  # originals put in their errors (Rust returns it as data) and the
  # auth-state helper. Everything else happens in Rust.

  alias BaileysEx.Auth.NIF
  alias BaileysEx.Auth.State

  @compile {:no_warn_undefined, [BaileysEx.Auth.State]}

  # The originals name their own module in these errors.
  @metadata_errors [
    :invalid_persistence_metadata,
    :unsupported_persistence_version,
    :unexpected_persistence_backend
  ]

  defguardp is_path(path) when is_nil(path) or is_binary(path)

  @spec configured_path(module()) :: term()
  def configured_path(module) do
    case Application.get_env(:baileys_ex_nif_persistence, module) do
      nil -> nil
      opts when is_list(opts) -> Keyword.get(opts, :path)
      _other -> nil
    end
  end

  @spec load_credentials(module(), atom(), term(), term()) :: {:ok, struct()} | {:error, term()}
  def load_credentials(module, backend, context, default) do
    with {:ok, location} <- location(backend, context, default) do
      case location
           |> NIF.load_credentials()
           |> finish_load(backend, :credentials)
           |> reply(module) do
        {:ok, nil} -> {:ok, State.new()}
        {:ok, state} when is_struct(state, State) -> {:ok, state}
        {:ok, %{} = fields} when not is_struct(fields) -> {:ok, struct(State, fields)}
        {:ok, other} -> {:error, {:invalid_credentials_data, other}}
        {:error, _reason} = error -> error
      end
    end
  end

  @spec save_credentials(module(), atom(), term(), term(), term()) :: :ok | {:error, term()}
  def save_credentials(module, backend, context, default, state) when is_struct(state, State) do
    with {:ok, data} <- backend |> NIF.encode(:credentials, state) |> reply(module),
         {:ok, location} <- location(backend, context, default),
         do: location |> NIF.save_credentials(data) |> reply(module)
  end

  def save_credentials(_module, _backend, _context, _default, state),
    do: {:error, {:invalid_credentials, state}}

  @spec load_key(module(), atom(), term(), term(), term(), term()) ::
          {:ok, term()} | {:error, term()}
  def load_key(module, backend, context, default, type, id) do
    with {:ok, id} <- key_id(id),
         {:ok, location} <- location(backend, context, default),
         :ok <- check_key(location, type, id) do
      case location
           |> NIF.load_key(type, id)
           |> finish_load(backend, {:key, type})
           |> reply(module) do
        {:ok, nil} -> {:error, :not_found}
        other -> other
      end
    end
  end

  @spec save_key(module(), atom(), term(), term(), term(), term(), term()) ::
          :ok | {:error, term()}
  def save_key(module, backend, context, default, type, id, value) do
    with {:ok, id} <- key_id(id),
         :ok <- check_type(type),
         {:ok, data} <- backend |> NIF.encode({:key, type}, value) |> reply(module),
         {:ok, location} <- location(backend, context, default),
         :ok <- check_key(location, type, id),
         do: location |> NIF.save_key(type, id, data) |> reply(module)
  end

  @spec delete_key(module(), atom(), term(), term(), term(), term()) :: :ok | {:error, term()}
  def delete_key(module, backend, context, default, type, id) do
    with {:ok, id} <- key_id(id),
         {:ok, location} <- location(backend, context, default),
         :ok <- check_key(location, type, id),
         do: location |> NIF.delete_key(type, id) |> reply(module)
  end

  @spec list_keys(module(), atom(), term(), term()) :: {:ok, map()} | {:error, term()}
  def list_keys(module, backend, context, default) do
    with {:ok, location} <- location(backend, context, default),
         do: location |> NIF.list_keys() |> reply(module)
  end

  @spec commit(module(), atom(), term(), term(), term(), term()) :: :ok | {:error, term()}
  def commit(module, backend, context, default, changes, opts) do
    with {:ok, changes} <- commit_changes(changes),
         {:ok, credentials} <- commit_credentials(opts),
         {:ok, location} <- location(backend, context, default),
         {:ok, changes} <- encode_changes(module, backend, changes),
         {:ok, credentials} <- encode_credentials(module, backend, credentials),
         do: location |> NIF.commit(changes, credentials) |> reply(module)
  end

  @spec load_many(module(), atom(), term(), term(), term(), term()) ::
          {:ok, map()} | {:error, term()}
  def load_many(module, backend, context, default, type, ids) do
    with :ok <- check_type(type),
         {:ok, names} <- key_ids(ids),
         {:ok, location} <- location(backend, context, default),
         {:ok, loaded} <- location |> NIF.load_many(type, names) |> reply(module),
         {:ok, values} <- finish_many(loaded, backend, type, module),
         do: {:ok, found(ids, values)}
  end

  # `%{type => %{id => value | nil}}` as `[{type, [{id, value}]}]` in the
  # maps' order, ids as strings, types without entries left out. The first
  # entry that save_keys or delete_keys would refuse refuses the commit.
  defp commit_changes(changes) when is_map(changes) and not is_struct(changes) do
    changes
    |> Enum.reduce_while({:ok, []}, fn {type, entries}, {:ok, acc} ->
      case key_changes(type, entries) do
        {:ok, []} -> {:cont, {:ok, acc}}
        {:ok, list} -> {:cont, {:ok, [{type, list} | acc]}}
        error -> {:halt, error}
      end
    end)
    |> reverse_ok()
  end

  defp commit_changes(changes), do: {:error, {:invalid_commit, changes}}

  defp key_changes(type, _entries) when not is_atom(type), do: {:error, {:invalid_key_type, type}}

  defp key_changes(_type, entries) when is_map(entries) and not is_struct(entries) do
    entries
    |> Enum.reduce_while({:ok, []}, fn {id, value}, {:ok, acc} ->
      case key_id(id) do
        {:ok, id} -> {:cont, {:ok, [{id, value} | acc]}}
        error -> {:halt, error}
      end
    end)
    |> reverse_ok()
  end

  defp key_changes(type, entries), do: {:error, {:invalid_commit, {type, entries}}}

  defp commit_credentials([]), do: {:ok, nil}
  defp commit_credentials(credentials: state) when is_struct(state, State), do: {:ok, state}
  defp commit_credentials(credentials: state), do: {:error, {:invalid_credentials, state}}
  defp commit_credentials(opts), do: {:error, {:invalid_commit_options, opts}}

  # One `encode_many` per key type: the values' data in their place, nil
  # (a delete) kept.
  defp encode_changes(module, backend, changes) do
    changes
    |> Enum.reduce_while({:ok, []}, fn {type, entries}, {:ok, acc} ->
      values = for {_id, value} <- entries, value != nil, do: value

      case encode_values(module, backend, type, values) do
        {:ok, data} -> {:cont, {:ok, [{type, put_data(entries, data)} | acc]}}
        error -> {:halt, error}
      end
    end)
    |> reverse_ok()
  end

  defp encode_values(_module, _backend, _type, []), do: {:ok, []}

  defp encode_values(module, backend, type, values),
    do: backend |> NIF.encode_many({:key, type}, values) |> reply(module)

  defp put_data([{id, nil} | entries], data), do: [{id, nil} | put_data(entries, data)]

  defp put_data([{id, _value} | entries], [bytes | data]),
    do: [{id, bytes} | put_data(entries, data)]

  defp put_data([], []), do: []

  defp encode_credentials(_module, _backend, nil), do: {:ok, nil}

  defp encode_credentials(module, backend, state),
    do: backend |> NIF.encode(:credentials, state) |> reply(module)

  # `length/1` fails the guard for an improper list.
  defp key_ids(ids) when is_list(ids) and length(ids) >= 0 do
    ids
    |> Enum.reduce_while({:ok, []}, fn id, {:ok, acc} ->
      case key_id(id) do
        {:ok, id} -> {:cont, {:ok, [id | acc]}}
        error -> {:halt, error}
      end
    end)
    |> reverse_ok()
  end

  defp key_ids(ids), do: {:error, {:invalid_key_ids, ids}}

  defp reverse_ok({:ok, list}), do: {:ok, Enum.reverse(list)}
  defp reverse_ok(error), do: error

  # What `load_many` left undecoded goes through one `decode_many` call.
  defp finish_many(loaded, backend, type, module) do
    case for({:encoded, bytes} <- loaded, do: bytes) do
      [] ->
        {:ok, Enum.map(loaded, fn {:ok, value} -> value end)}

      files ->
        with {:ok, decoded} <- backend |> NIF.decode_many({:key, type}, files) |> reply(module),
             do: {:ok, put_decoded(loaded, decoded)}
    end
  end

  defp put_decoded([{:ok, value} | loaded], decoded), do: [value | put_decoded(loaded, decoded)]

  defp put_decoded([{:encoded, _bytes} | loaded], [value | decoded]),
    do: [value | put_decoded(loaded, decoded)]

  defp put_decoded([], []), do: []

  # Each id as the caller gave it; nil (no file, or a JSON null) is absent,
  # as it is `{:error, :not_found}` for `load_keys`.
  defp found(ids, values) do
    for {id, value} <- Enum.zip(ids, values), value != nil, into: %{}, do: {id, value}
  end

  # A large file comes back undecoded so that decoding runs on a dirty CPU
  # scheduler rather than the dirty IO thread that read it.
  defp finish_load({:encoded, bytes}, backend, slot), do: NIF.decode(backend, slot, bytes)
  defp finish_load(result, _backend, _slot), do: result

  # Where a NIF works: the directories each a binary or nil.
  defp location(_backend, context, _default) when not is_path(context),
    do: {:error, {:invalid_context, context}}

  defp location(_backend, _context, default) when not is_path(default),
    do: {:error, {:invalid_config_path, default}}

  defp location(backend, context, default), do: {:ok, {backend, context, default}}

  defp check_type(type) when is_atom(type), do: :ok
  defp check_type(type), do: {:error, {:invalid_key_type, type}}

  # The NIFs check the directory, then the key type (an atom whose name they
  # can read), then the id. A type or an id of the wrong type is refused here
  # after the checks the NIFs make before it, on this error path only:
  # resolving the directory and, for an id, reading the type's name (all
  # that `encode` with ETF can fail on).
  defp check_key(_location, type, id) when is_atom(type) and is_binary(id), do: :ok

  defp check_key(location, type, id) do
    with {:ok, _dir} <- NIF.resolve_dir(location),
         :ok <- check_type(type),
         {:ok, _bytes} <- NIF.encode(:etf, {:key, type}, nil),
         do: {:error, {:invalid_key_id, id}}
  end

  # Rust returns data; the exceptions and module names the originals put in
  # their errors are built here.
  defp reply({:error, {:argument_error, message}}, _module),
    do: {:error, %ArgumentError{message: message}}

  defp reply({:error, {:invalid_etf, bytes}}, _module), do: {:error, etf_exception(bytes)}

  defp reply({:error, {:invalid_etf_metadata, bytes}}, module),
    do: {:error, {:invalid_persistence_metadata, module, etf_detail(bytes)}}

  defp reply({:error, {error, detail}}, module) when error in @metadata_errors,
    do: {:error, {error, module, detail}}

  defp reply(result, _module), do: result

  # What `:erlang.binary_to_term(bytes, [:safe])` raises for a file Rust
  # refused. Rust also refuses bytes after a whole term, which the VM
  # ignores; the VM raises the same for those as for any unreadable input,
  # an empty one included.
  defp etf_exception(bytes) do
    _term = :erlang.binary_to_term(bytes, [:safe])
    etf_exception(<<>>)
  rescue
    error in ArgumentError -> error
  end

  # The original's detail for a manifest that is not valid metadata: the
  # term it decodes to, or the exception decoding raises.
  defp etf_detail(bytes) do
    case :erlang.binary_to_term(bytes, [:safe, :used]) do
      {term, used} when used == byte_size(bytes) -> term
      _trailing -> etf_exception(<<>>)
    end
  rescue
    error in ArgumentError -> error
  end

  @doc false
  # The originals name files after `to_string(id)`; only `String.Chars` knows
  # how every id type prints, so this one step stays in Elixir.
  @spec key_id(term()) :: {:ok, binary()} | {:error, {:invalid_key_id, term()}}
  def key_id(id) when is_binary(id), do: {:ok, id}
  def key_id(id) when is_integer(id), do: {:ok, Integer.to_string(id)}

  def key_id(id) do
    {:ok, String.Chars.to_string(id)}
  rescue
    _ -> {:error, {:invalid_key_id, id}}
  end

  @spec auth_state_helper(module(), atom(), term(), keyword()) :: {:ok, map()} | {:error, term()}
  def auth_state_helper(module, backend, path, opts) do
    with {:ok, store} <- signal_store_module(opts),
         {:ok, dir} <- helper_dir(module, backend, path),
         {:ok, state} <- load_credentials(module, backend, dir, nil) do
      {:ok,
       %{
         state: state,
         connect_opts: [
           signal_store_module: store,
           signal_store_opts: [persistence_module: module, persistence_context: dir]
         ],
         save_creds: fn creds ->
           save_credentials(module, backend, dir, nil, credentials_state(creds))
         end
       }}
    end
  end

  # `signal_store_module: BaileysEx.Auth.KeyStore` keeps BaileysEx's own store.
  defp signal_store_module(opts) when is_list(opts) do
    if Keyword.keyword?(opts), do: validated_store(opts), else: {:error, {:invalid_options, opts}}
  end

  defp signal_store_module(opts), do: {:error, {:invalid_options, opts}}

  defp validated_store(opts) do
    case Keyword.validate(opts, signal_store_module: BaileysEx.Auth.NIF.KeyStore) do
      {:ok, [signal_store_module: store]} when is_atom(store) and store != nil -> {:ok, store}
      {:ok, [signal_store_module: other]} -> {:error, {:invalid_signal_store_module, other}}
      {:ok, _repeated} -> {:error, {:invalid_options, opts}}
      {:error, unknown} -> {:error, {:unknown_options, unknown}}
    end
  end

  # The context is handed back exactly as given, as the originals do; only the
  # default is resolved here, so the key store gets a concrete directory.
  defp helper_dir(module, backend, nil) do
    default = configured_path(module)

    with {:ok, location} <- location(backend, nil, default),
         do: location |> NIF.resolve_dir() |> reply(module)
  end

  defp helper_dir(_module, _backend, path), do: {:ok, path}

  # The originals accept a `%State{}` as is, project any other map through
  # `State.creds_view/1`, and fall back to fresh credentials otherwise.
  defp credentials_state(state) when is_struct(state, State), do: state
  defp credentials_state(%{} = map), do: struct(State, State.creds_view(map))
  defp credentials_state(_other), do: State.new()
end
