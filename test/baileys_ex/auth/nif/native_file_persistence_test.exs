defmodule BaileysEx.Auth.NIF.NativeFilePersistenceTest do
  @moduledoc """
  What only the ETF backend does with credentials: any term is stored as
  `term_to_binary/1` writes it, and what the file holds decides what loads.
  The behaviour both backends share is in `parity/contract_test.exs` and
  `drop_in_test.exs`.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Persistence
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.State

  describe "credentials" do
    @tag :tmp_dir
    test "credentials roundtrip any BEAM term, including atoms and tuples", %{tmp_dir: tmp_dir} do
      state = %{
        DeterministicAuth.state(150)
        | platform: "macOS",
          routing_info: <<1, 2, 3, 4>>,
          pairing_code: "123-456",
          additional_data: %{
            labels: [:alpha, :beta],
            nested: %{token: <<5, 6, 7>>, status: {:ok, 42}, ref: {:a, [1.5, -3], "é"}}
          }
      }

      assert :ok = Persistence.save_credentials(tmp_dir, state)
      assert {:ok, ^state} = Persistence.load_credentials(tmp_dir)

      encoded = File.read!(Path.join(tmp_dir, "creds.etf"))
      assert encoded == :erlang.term_to_binary(state)
      assert :erlang.binary_to_term(encoded, [:safe]) == state
    end

    @tag :tmp_dir
    test "a stored plain map becomes a State struct", %{tmp_dir: tmp_dir} do
      fields = %{platform: "android", registered: true, registration_id: 77}
      File.write!(Path.join(tmp_dir, "creds.etf"), :erlang.term_to_binary(fields))

      assert {:ok, loaded} = Persistence.load_credentials(tmp_dir)
      assert loaded == struct(State, fields)
    end

    @tag :tmp_dir
    test "stored credentials that are not a map are refused", %{tmp_dir: tmp_dir} do
      File.write!(Path.join(tmp_dir, "creds.etf"), :erlang.term_to_binary([1, 2, 3]))

      assert {:error, {:invalid_credentials_data, [1, 2, 3]}} =
               Persistence.load_credentials(tmp_dir)
    end

    # JSON has no form for a state without key pairs; ETF stores it as is.
    @tag :tmp_dir
    test "save_creds projects a :creds map that lacks key pairs", %{tmp_dir: tmp_dir} do
      assert {:ok, auth} = Persistence.use_native_file_auth_state(tmp_dir)
      creds = %{platform: "web", registered: true, registration_id: 321}

      assert :ok = auth.save_creds.(%{creds: creds, keys: :ignored})
      assert {:ok, loaded} = Persistence.load_credentials(tmp_dir)
      assert loaded == struct(State, creds)
    end
  end
end
