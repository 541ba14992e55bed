defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Folder do
  @moduledoc false
  # A `useMultiFileAuthState` folder: `creds.json` and `<type>-<id>.json`
  # per key, the whole name sanitised as Baileys does (`/` -> `__`, then
  # `:` -> `-`). That is the naming of BaileysEx's JSON backend, so names
  # are read and made with `Layout`'s `:json` rules; the id a name gives
  # back is the one Baileys meant, except for ids that held a `:` (sender
  # keys' `::` separators are restored).

  alias BaileysEx.Auth.NIF.Tools.JSON
  alias BaileysEx.Auth.NIF.Tools.Layout

  @doc "The JS file name of a key."
  @spec file(atom(), String.t()) :: String.t()
  def file(type, id), do: Layout.key_file(:json, type, id)

  @doc "What a JS folder entry is: `:creds`, `{:key, type, id}` or `:unknown`."
  @spec classify(String.t()) :: :creds | {:key, atom(), String.t()} | :unknown
  def classify("creds.json"), do: :creds

  def classify(name) do
    case Layout.classify(name, :json) do
      {:key, _type, _id} = key -> key
      _other -> :unknown
    end
  end

  @doc "Reads and parses one file; errors name the file."
  @spec read(Path.t()) :: {:ok, JSON.t()} | {:error, term()}
  def read(path) do
    with {:ok, bytes} <- file_read(path),
         {:ok, value} <- parse(path, bytes),
         do: {:ok, value}
  end

  defp file_read(path) do
    case File.read(path) do
      {:ok, bytes} -> {:ok, bytes}
      {:error, reason} -> {:error, {:cannot_read, Path.basename(path), reason}}
    end
  end

  defp parse(path, bytes) do
    case JSON.decode(bytes) do
      {:ok, value} -> {:ok, value}
      {:error, reason} -> {:error, {:invalid_file, Path.basename(path), reason}}
    end
  end
end
