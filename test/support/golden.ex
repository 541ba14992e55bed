defmodule BaileysEx.Auth.NIF.Test.Golden do
  @moduledoc """
  What the golden tests share: a file's term read independently of the module under test, the fixture operations
  (`Fixtures.ops/0`) applied through a module, and the check that a
  directory loads back as expected.
  """

  import ExUnit.Assertions

  alias BaileysEx.Auth.NIF.Test.Fixtures

  @doc "The term a file of backend `kind` holds (`:etf` or `:json`)."
  @spec decode(:etf | :json, binary()) :: term()
  def decode(:etf, bytes) when is_binary(bytes), do: :erlang.binary_to_term(bytes)
  def decode(:json, text) when is_binary(text), do: decode_json!(text)

  @doc """
  JSON read independently of the module under test: OTP's own `:json` where
  the VM has it (OTP 27+), else the test-support codec. Raises on bad JSON.
  """
  @spec decode_json!(binary()) :: term()
  if Code.ensure_loaded?(:json) do
    def decode_json!(text) when is_binary(text) do
      {term, :ok, rest} = :json.decode(text, :ok, %{null: nil})
      "" = String.trim(rest)
      term
    end
  else
    def decode_json!(text) when is_binary(text) do
      {:ok, term} = BaileysEx.Auth.NIF.Baseline.JSONCodec.decode(text)
      term
    end
  end

  @doc "Applies all of `Fixtures.ops/0` through `module` to `dir`; returns `dir`."
  @spec replay(module(), Path.t()) :: Path.t()
  def replay(module, dir) when is_atom(module) and is_binary(dir) do
    apply_ops(module, dir, Fixtures.ops())
    dir
  end

  @doc "Applies `ops` (a part of `Fixtures.ops/0`) through `module` to `dir`."
  @spec apply_ops(module(), Path.t(), [tuple()]) :: :ok
  def apply_ops(module, dir, ops) when is_atom(module) and is_binary(dir) and is_list(ops) do
    Enum.each(ops, fn
      {:creds, state} ->
        assert :ok = module.save_credentials(dir, state)

      {:save, type, id, value, note} ->
        assert :ok = module.save_keys(dir, type, id, value), inspect(note)

      {:delete, type, id, note} ->
        assert :ok = module.delete_keys(dir, type, id), inspect(note)
    end)
  end

  @doc """
  Asserts that `module` loads `expected.creds` and every `expected.keys`
  value from `dir`, exactly.
  """
  @spec assert_loads(module(), Path.t(), %{creds: term(), keys: map()}) :: :ok
  def assert_loads(module, dir, %{creds: creds, keys: keys}) when is_atom(module) do
    assert module.load_credentials(dir) == {:ok, creds}

    for {{type, id}, value} <- keys do
      assert module.load_keys(dir, type, id) == {:ok, value},
             "#{inspect(module)}.load_keys(#{inspect(type)}, #{inspect(id)})"
    end

    :ok
  end
end
