defmodule BaileysEx.Auth.NIF.Baseline.IO do
  @moduledoc """
  File primitives of the pure-Elixir baseline backends: replace-by-rename
  writes with optional durability, and directory syncs.

  A write always goes to a fresh `<final>.tmp-<n>` file in the same directory
  and is then renamed over the final name. With `fsync?: true` (the default)
  the temp file is opened `[:write, :exclusive, :binary, :raw]` and synced
  before the rename; `sync_parent?` (defaults to the `fsync?` value) syncs the
  directory after it. With `fsync?: false` the temp file is written with a
  plain `File.write/2`. On any failure the temp file is removed and the error
  returned.
  """

  @ignored_dir_open_errors [:enotsup, :eacces, :einval, :eperm]

  @doc """
  Atomically replaces `path` with `contents`.

  Options: `fsync?` (default `true`) and `sync_parent?` (default: `fsync?`).
  """
  @spec atomic_write(Path.t(), iodata(), keyword()) :: :ok | {:error, term()}
  def atomic_write(path, contents, opts \\ []) when is_binary(path) and is_list(opts) do
    durable? = Keyword.get(opts, :fsync?, true)
    sync_dir? = Keyword.get(opts, :sync_parent?, durable?)
    temp = path <> ".tmp-" <> Integer.to_string(System.unique_integer([:positive, :monotonic]))

    result =
      with :ok <- write_temp(temp, contents, durable?),
           :ok <- File.rename(temp, path) do
        if sync_dir?, do: sync_parent_directory(path), else: :ok
      end

    case result do
      :ok ->
        :ok

      {:error, _reason} = error ->
        _ = File.rm(temp)
        error
    end
  end

  @doc """
  Syncs the directory that contains `path`. Platforms that cannot open a
  directory for syncing (`enotsup`, `eacces`, `einval`, `eperm`) count as
  success.
  """
  @spec sync_parent_directory(Path.t()) :: :ok | {:error, term()}
  def sync_parent_directory(path) when is_binary(path) do
    dir = path |> Path.dirname() |> String.to_charlist()

    case :file.open(dir, [:read, :raw, :directory]) do
      {:ok, fd} ->
        try do
          :file.sync(fd)
        after
          :ok = :file.close(fd)
        end

      {:error, reason} when reason in @ignored_dir_open_errors ->
        :ok

      {:error, _reason} = error ->
        error
    end
  end

  defp write_temp(temp, contents, false), do: File.write(temp, contents)

  defp write_temp(temp, contents, true) do
    case :file.open(String.to_charlist(temp), [:write, :exclusive, :binary, :raw]) do
      {:ok, fd} ->
        try do
          with :ok <- :file.write(fd, contents), do: :file.sync(fd)
        after
          :ok = :file.close(fd)
        end

      {:error, _reason} = error ->
        error
    end
  end
end
