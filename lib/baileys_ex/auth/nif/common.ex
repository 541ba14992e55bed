defmodule BaileysEx.Auth.NIF.Common do
  @moduledoc false
  # What both drop-ins share on the Elixir side: turning ids into strings,
  # the parts that need BaileysEx itself (`State.new/0`, `struct/2`), and the
  # auth-state helper. Everything else happens in Rust.

  alias BaileysEx.Auth.NIF
  alias BaileysEx.Auth.State

  @compile {:no_warn_undefined, [BaileysEx.Auth.State]}

  @spec configured_path(module()) :: term()
  def configured_path(module) do
    case Application.get_env(:baileys_ex_nif_persistence, module) do
      nil -> nil
      opts when is_list(opts) -> Keyword.get(opts, :path)
      _other -> nil
    end
  end

  @spec load_credentials(atom(), term(), term()) :: {:ok, struct()} | {:error, term()}
  def load_credentials(backend, context, default) do
    case backend
         |> NIF.load_credentials(context, default)
         |> finish_load(backend, :credentials) do
      {:ok, nil} -> {:ok, State.new()}
      {:ok, state} when is_struct(state, State) -> {:ok, state}
      {:ok, %{} = fields} when not is_struct(fields) -> {:ok, struct(State, fields)}
      {:ok, other} -> {:error, {:invalid_credentials_data, other}}
      {:error, _reason} = error -> error
    end
  end

  @spec save_credentials(atom(), term(), term(), term()) :: :ok | {:error, term()}
  def save_credentials(backend, context, default, state) when is_struct(state, State) do
    with {:ok, data} <- NIF.encode(backend, :credentials, state),
         do: NIF.save_credentials(backend, context, default, data)
  end

  def save_credentials(_backend, _context, _default, state),
    do: {:error, {:invalid_credentials, state}}

  @spec load_key(atom(), term(), term(), term(), term()) :: {:ok, term()} | {:error, term()}
  def load_key(backend, context, default, type, id) do
    with {:ok, id} <- key_id(id) do
      case backend
           |> NIF.load_key(context, default, type, id)
           |> finish_load(backend, {:key, type}) do
        {:ok, nil} -> {:error, :not_found}
        other -> other
      end
    end
  end

  @spec save_key(atom(), term(), term(), term(), term(), term()) :: :ok | {:error, term()}
  def save_key(backend, context, default, type, id, value) do
    with {:ok, id} <- key_id(id),
         {:ok, data} <- NIF.encode(backend, {:key, type}, value),
         do: NIF.save_key(backend, context, default, type, id, data)
  end

  @spec delete_key(atom(), term(), term(), term(), term()) :: :ok | {:error, term()}
  def delete_key(backend, context, default, type, id) do
    with {:ok, id} <- key_id(id), do: NIF.delete_key(backend, context, default, type, id)
  end

  @spec list_keys(atom(), term(), term()) :: {:ok, map()} | {:error, term()}
  def list_keys(backend, context, default), do: NIF.list_keys(backend, context, default)

  # A large file comes back undecoded so that decoding runs on a dirty CPU
  # scheduler rather than the dirty IO thread that read it.
  defp finish_load({:encoded, bytes}, backend, slot), do: NIF.decode(backend, slot, bytes)
  defp finish_load(result, _backend, _slot), do: result

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
         {:ok, state} <- load_credentials(backend, dir, nil) do
      {:ok,
       %{
         state: state,
         connect_opts: [
           signal_store_module: store,
           signal_store_opts: [persistence_module: module, persistence_context: dir]
         ],
         save_creds: fn creds -> save_credentials(backend, dir, nil, credentials_state(creds)) end
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
  defp helper_dir(module, backend, nil),
    do: NIF.resolve_dir(backend, nil, configured_path(module))

  defp helper_dir(_module, _backend, path), do: {:ok, path}

  # The originals accept a `%State{}` as is, project any other map through
  # `State.creds_view/1`, and fall back to fresh credentials otherwise.
  defp credentials_state(state) when is_struct(state, State), do: state
  defp credentials_state(%{} = map), do: struct(State, State.creds_view(map))
  defp credentials_state(_other), do: State.new()
end
