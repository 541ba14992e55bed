defmodule BaileysEx.Auth.NIF do
  @moduledoc false
  # The Rust NIF. One stub per native function; the public modules guard
  # their arguments and hold the docs. `backend` is `:etf` or `:json`;
  # `context` is the caller's directory or nil, `default` the configured
  # default directory or nil; `slot` is `:credentials` or `{:key, type}`.
  # `encode/3` and `decode/3` run on dirty CPU schedulers, the rest on dirty
  # IO schedulers. Loads return `{:encoded, bytes}` for large files, which the
  # caller passes to `decode/3`.

  @on_load :load_nif

  @doc false
  def load_nif do
    path = :filename.join(:code.priv_dir(:baileys_ex_nif_persistence), ~c"native/baileys_ex_nif")

    case :erlang.load_nif(path, 0) do
      :ok ->
        :ok

      {:error, {:reload, _}} ->
        :ok

      {:error, reason} ->
        # Loading must not fail the module: each call then explains itself.
        :persistent_term.put({__MODULE__, :load_error}, reason)
        :ok
    end
  end

  def encode(_backend, _slot, _value), do: not_loaded()
  def decode(_backend, _slot, _bytes), do: not_loaded()
  def resolve_dir(_backend, _context, _default), do: not_loaded()
  def load_credentials(_backend, _context, _default), do: not_loaded()
  def save_credentials(_backend, _context, _default, _data), do: not_loaded()
  def load_key(_backend, _context, _default, _type, _id), do: not_loaded()
  def save_key(_backend, _context, _default, _type, _id, _data), do: not_loaded()
  def delete_key(_backend, _context, _default, _type, _id), do: not_loaded()
  def list_keys(_backend, _context, _default), do: not_loaded()

  defp not_loaded do
    reason = :persistent_term.get({__MODULE__, :load_error}, :not_loaded)

    raise RuntimeError,
      message:
        "the baileys_ex_nif native library is not loaded (#{inspect(reason)}). " <>
          "Build it with `mix compile` (needs Rust with cargo >= 1.91); " <>
          "it is installed as priv/native/baileys_ex_nif.so"
  end
end
