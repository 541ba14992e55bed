defmodule BaileysEx.Auth.NIF.Test.Fixtures do
  @moduledoc """
  Access to the fixture set written by the real BaileysEx backends
  (`test/fixtures/set_a`, see its README).
  """

  @root Path.expand("../fixtures/set_a", __DIR__)

  @doc "Root directory of the fixture set."
  @spec root() :: Path.t()
  def root, do: @root

  @doc "Auth directory written by one backend: `:etf`, `:json` or `:json_legacy`."
  @spec dir(:etf | :json | :json_legacy) :: Path.t()
  def dir(:etf), do: Path.join(@root, "etf")
  def dir(:json), do: Path.join(@root, "json")
  def dir(:json_legacy), do: Path.join(@root, "json_legacy")

  @doc "`%{creds: %State{}, keys: %{{type, id} => value}}`: what every load returns exactly."
  @spec expected() :: %{creds: struct(), keys: map()}
  def expected, do: read_term("expected.etf")

  @doc "Same shape as `expected/0`, as the JSON backend actually returns it."
  @spec expected_json() :: %{creds: struct(), keys: map()}
  def expected_json, do: read_term("expected_json.etf")

  @doc "What loading the fixture dir of backend `kind` returns: `expected/0` or `expected_json/0`."
  @spec expected(:etf | :json) :: %{creds: struct(), keys: map()}
  def expected(:etf), do: expected()
  def expected(:json), do: expected_json()

  @doc "`%{json: index, etf: index}` as `list_persisted_keys/1` returned for each dir."
  @spec expected_index() :: %{json: map(), etf: map()}
  def expected_index, do: read_term("expected_index.etf")

  @doc "The operations (in order) that wrote both dirs."
  @spec ops() :: [tuple()]
  def ops, do: read_term("ops.etf")

  @doc "`%{creds:, keys:, index:}` for the `json_legacy` dir."
  @spec expected_legacy() :: map()
  def expected_legacy, do: read_term("expected_legacy.etf")

  @doc "OTP/Elixir versions the fixtures were written with."
  @spec meta() :: term()
  def meta, do: read_term("meta.etf")

  @doc """
  Copies the fixture dir of `kind` into `tmp_dir/<kind>` (writable copies,
  dot files included) and returns the new path.
  """
  @spec copy_to_tmp(:etf | :json | :json_legacy, Path.t()) :: Path.t()
  def copy_to_tmp(kind, tmp_dir) do
    target = Path.join(tmp_dir, Atom.to_string(kind))
    File.mkdir_p!(target)

    for name <- File.ls!(dir(kind)) do
      destination = Path.join(target, name)
      File.cp!(Path.join(dir(kind), name), destination)
      File.chmod!(destination, 0o644)
    end

    target
  end

  # Fixtures are trusted files of this repository, so a non-safe decode is fine
  # (they contain atoms that may not exist yet in this VM).
  defp read_term(name) do
    @root |> Path.join(name) |> File.read!() |> :erlang.binary_to_term()
  end
end
