defmodule BaileysEx.Auth.NIF.Test.DirSnapshot do
  @moduledoc """
  A directory's files as data, to compare before and after a call or with
  the files another implementation wrote.
  """

  @doc "The names and bytes of the files in `dir` (not recursive)."
  @spec take(Path.t()) :: %{String.t() => binary()}
  def take(dir) when is_binary(dir) do
    for name <- File.ls!(dir), into: %{}, do: {name, File.read!(Path.join(dir, name))}
  end
end
