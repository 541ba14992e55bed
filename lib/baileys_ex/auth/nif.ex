defmodule BaileysEx.Auth.NIF do
  @moduledoc false
  # The Rust NIF. One stub per native function; the public modules guard
  # their arguments (`Common`) and hold the docs. Arguments are typed, a
  # wrong type raises: `backend` is `:etf` or `:json`; `location` is
  # `{backend, context, default}`, the caller's directory and the configured
  # default each a binary or nil; `type` is an atom, `id` and `data`
  # binaries; `slot` is `:credentials` or `{:key, type}`. Errors are data
  # (`{:argument_error, message}`, `{:invalid_etf, bytes}`, manifest errors
  # without the module) that `Common` turns into the originals' terms.
  # `encode/3`, `decode/3`, `encode_many/3` and `decode_many/3` run on dirty
  # CPU schedulers, the rest on dirty IO schedulers; `scheduler_use/0`
  # reports the thread kinds each NIF has run on, for the test that checks
  # exactly that. Loads return `{:encoded, bytes}` for what they did not
  # decode themselves (large files), which the caller passes to `decode/3`
  # or `decode_many/3`. `commit/3` takes `[{type, [{id, data | nil}]}]`
  # (data from `encode_many/3`, nil deletes) and the credentials' data or
  # nil; `load_many/3` answers `{:ok, [{:ok, term_or_nil} | {:encoded, bytes}]}`
  # in the ids' order.

  @on_load :load_nif

  @doc false
  def load_nif do
    case :erlang.load_nif(library_path(), 0) do
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

  def encode(_backend, _slot, _value), do: :erlang.nif_error(not_loaded())
  def decode(_backend, _slot, _bytes), do: :erlang.nif_error(not_loaded())
  def resolve_dir(_location), do: :erlang.nif_error(not_loaded())
  def load_credentials(_location), do: :erlang.nif_error(not_loaded())
  def save_credentials(_location, _data), do: :erlang.nif_error(not_loaded())
  def load_key(_location, _type, _id), do: :erlang.nif_error(not_loaded())
  def save_key(_location, _type, _id, _data), do: :erlang.nif_error(not_loaded())
  def delete_key(_location, _type, _id), do: :erlang.nif_error(not_loaded())
  def list_keys(_location), do: :erlang.nif_error(not_loaded())
  def encode_many(_backend, _slot, _values), do: :erlang.nif_error(not_loaded())
  def decode_many(_backend, _slot, _files), do: :erlang.nif_error(not_loaded())
  def commit(_location, _changes, _credentials), do: :erlang.nif_error(not_loaded())
  def load_many(_location, _type, _ids), do: :erlang.nif_error(not_loaded())
  def scheduler_use, do: :erlang.nif_error(not_loaded())

  # `:code.priv_dir/1` is `{:error, :bad_name}` when the application is not on
  # the code path; the path is then reported as unknown.
  defp library_path do
    case :code.priv_dir(:baileys_ex_nif_persistence) do
      {:error, _} -> ~c"priv/native/baileys_ex_nif"
      priv -> :filename.join(priv, ~c"native/baileys_ex_nif")
    end
  end

  # The exception every stub raises while the library is not loaded: what the
  # VM said, the file it tried and whether that file exists, so a missing
  # build is told apart from a library that does not load.
  defp not_loaded do
    reason = :persistent_term.get({__MODULE__, :load_error}, :not_loaded)
    file = List.to_string(library_path()) <> ".so"
    state = if File.exists?(file), do: "exists but did not load", else: "does not exist"

    RuntimeError.exception(
      "the baileys_ex_nif native library is not loaded: #{file} #{state} " <>
        "(#{inspect(reason)}). It is built by this project's Mix compiler " <>
        "(`mix compile`, or `mix deps.compile baileys_ex_nif_persistence --force` " <>
        "in an app that depends on it), which needs Rust with cargo >= 1.91"
    )
  end
end
