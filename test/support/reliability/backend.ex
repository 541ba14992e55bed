defmodule BaileysEx.Auth.NIF.Test.Reliability.Backend do
  @moduledoc """
  The persistence backends as the reliability tests see them (described in
  `BaileysEx.Auth.NIF.Test.Backends`): how their files decode, and
  self-checking values they can store.

  `all/0` lists every backend whose module is loaded, so a backend is covered
  as soon as it exists. Values are JSON-safe (string keys, strings, integers)
  so that one generator serves both backends: the ETF backend stores the
  payload as raw bytes, the JSON backend as Base64 text.
  """

  alias BaileysEx.Auth.NIF.Baseline.JSONCodec
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth

  @type t :: Backends.t()

  @doc "Every backend whose module is available in this VM."
  @spec all() :: [t()]
  def all, do: Enum.filter(Backends.all(), &Code.ensure_loaded?(&1.module))

  @doc "The backend named `name` (`:etf` or `:json`), if loaded."
  @spec fetch(atom() | String.t()) :: {:ok, t()} | :error
  def fetch(name) do
    case Backends.fetch(name) do
      {:ok, backend} -> if Code.ensure_loaded?(backend.module), do: {:ok, backend}, else: :error
      :error -> :error
    end
  end

  @doc "Decodes one data file or manifest the way a reader must be able to."
  @spec decode_file(t(), binary()) :: {:ok, term()} | {:error, term()}
  def decode_file(%Backends{name: :etf}, bytes) do
    {:ok, :erlang.binary_to_term(bytes, [:safe])}
  rescue
    error in ArgumentError -> {:error, error}
  end

  def decode_file(%Backends{name: :json}, bytes), do: JSONCodec.decode(bytes)

  @doc """
  The manifest of `dir`: `:missing`, `{:ok, index}` with `index` a map of
  type name to ids, or `{:error, reason}` when it does not decode to a valid
  manifest of this backend.
  """
  @spec manifest(t(), Path.t()) :: :missing | {:ok, map()} | {:error, term()}
  def manifest(backend, dir) do
    case File.read(Path.join(dir, backend.manifest_file)) do
      {:error, :enoent} ->
        :missing

      {:ok, bytes} ->
        case decode_file(backend, bytes) do
          {:ok, %{"backend" => id, "version" => 1, "key_index" => index}}
          when id == backend.backend_id and is_map(index) ->
            {:ok, index}

          {:ok, other} ->
            {:error, {:bad_manifest, other}}

          {:error, reason} ->
            {:error, reason}
        end

      {:error, reason} ->
        {:error, reason}
    end
  end

  @doc "Whether the manifest of `dir` lists `id` under `type`."
  @spec listed?(t(), Path.t(), atom(), String.t()) :: boolean()
  def listed?(backend, dir, type, id) do
    case manifest(backend, dir) do
      {:ok, index} -> id in Map.get(index, Atom.to_string(type), [])
      _ -> false
    end
  end

  @doc "Names of leftover temp files in `dir`."
  @spec temp_files(Path.t()) :: [binary()]
  def temp_files(dir), do: dir |> names() |> Enum.filter(&String.contains?(&1, ".tmp-"))

  @doc "Names of the data files in `dir`: creds and key files, no temp files."
  @spec data_files(t(), Path.t()) :: [binary()]
  def data_files(backend, dir) do
    dir
    |> names()
    |> Enum.filter(fn name ->
      String.ends_with?(name, backend.ext) and not String.contains?(name, ".tmp-") and
        name != backend.manifest_file
    end)
  end

  # Every entry, names that are not UTF-8 included (as raw binaries), without
  # the warning `File.ls/1` logs for them.
  defp names(dir) do
    case :file.list_dir_all(dir) do
      {:ok, names} -> Enum.map(names, &if(is_binary(&1), do: &1, else: List.to_string(&1)))
      {:error, _} -> []
    end
  end

  @doc """
  The value written as number `seq` for key `id`: the payload is derived from
  both, so the whole value can be recomputed from the `"seq"` it carries.
  Sizes vary; one in sixteen is a few hundred kilobytes.
  """
  @spec key_value(t(), String.t(), non_neg_integer()) :: map()
  def key_value(backend, id, seq) do
    payload = payload(id, seq)

    %{
      "id" => id,
      "seq" => seq,
      "payload" => encode_payload(backend, payload),
      "sum" => :erlang.crc32([id, Integer.to_string(seq), payload])
    }
  end

  @doc "`{:ok, seq}` when `value` is exactly what `key_value/3` gives for `id`."
  @spec check_key_value(t(), String.t(), term()) :: {:ok, non_neg_integer()} | :error
  def check_key_value(backend, id, %{"seq" => seq} = value)
      when is_integer(seq) and seq >= 0 do
    if value == key_value(backend, id, seq), do: {:ok, seq}, else: :error
  end

  def check_key_value(_backend, _id, _value), do: :error

  @doc """
  Credentials carrying `seq`: a full deterministic state whose
  `additional_data` holds the sequence number and a checksum.
  """
  @spec creds(non_neg_integer()) :: struct()
  def creds(seq) do
    base = base_creds()
    %{base | additional_data: %{"seq" => seq, "sum" => :erlang.crc32("creds:#{seq}")}}
  end

  @doc """
  `{:ok, seq}` for credentials written by `creds/1`, `:fresh` for the fresh
  state a missing file gives, `:error` for anything else.
  """
  @spec check_creds(term()) :: {:ok, non_neg_integer()} | :fresh | :error
  def check_creds(%{additional_data: %{"seq" => seq, "sum" => sum}} = state)
      when is_integer(seq) do
    if sum == :erlang.crc32("creds:#{seq}") and
         Map.get(state, :registration_id) == base_creds().registration_id,
       do: {:ok, seq},
       else: :error
  end

  def check_creds(%{additional_data: nil, registered: false}), do: :fresh
  def check_creds(_other), do: :error

  defp base_creds do
    case :persistent_term.get({__MODULE__, :creds}, nil) do
      nil ->
        state = DeterministicAuth.state(4242)
        :persistent_term.put({__MODULE__, :creds}, state)
        state

      state ->
        state
    end
  end

  defp payload(id, seq) do
    size =
      if rem(seq, 16) == 0,
        do: 200_000 + rem(seq, 60_000),
        else: 32 + rem(seq * 7919, 2000)

    block = :crypto.hash(:sha256, [id, ?:, Integer.to_string(seq)])
    binary_part(:binary.copy(block, div(size, 32) + 1), 0, size)
  end

  defp encode_payload(%Backends{name: :etf}, payload), do: payload
  defp encode_payload(%Backends{name: :json}, payload), do: Base.encode64(payload)
end
