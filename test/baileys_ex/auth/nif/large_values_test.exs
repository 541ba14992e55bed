defmodule BaileysEx.Auth.NIF.LargeValuesTest do
  # Files over 64 KiB are decoded by a separate dirty CPU NIF call; these
  # tests pin that path to the same results as the inline one.
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.NativeFilePersistence, as: Etf
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Signal.SessionRecord

  defp big_session do
    base_key = :binary.copy(<<5>>, 33)
    message_keys = Map.new(0..2_999, fn i -> {i, :crypto.hash(:sha256, <<i::32>>)} end)

    SessionRecord.put_session(SessionRecord.new(), base_key, %{
      current_ratchet: %{
        root_key: :binary.copy(<<1>>, 32),
        ephemeral_key_pair: %{public: :binary.copy(<<2>>, 33), private: :binary.copy(<<3>>, 32)},
        last_remote_ephemeral: :binary.copy(<<4>>, 33),
        previous_counter: 3
      },
      index_info: %{
        remote_identity_key: :binary.copy(<<6>>, 33),
        local_identity_key: :binary.copy(<<7>>, 33),
        base_key: base_key,
        base_key_type: :receiving,
        closed: nil
      },
      chains: %{
        :binary.copy(<<8>>, 33) => %{
          chain_key: %{counter: 3_000, key: :binary.copy(<<9>>, 32)},
          chain_type: :receiving,
          message_keys: message_keys
        }
      },
      pending_pre_key: nil,
      registration_id: 77
    })
  end

  for %{title: name, module: store, ext: ext} <- Backends.all() do
    @store store
    @ext ext

    @tag :tmp_dir
    test "#{name}: a session larger than 64 KiB roundtrips", %{tmp_dir: dir} do
      record = big_session()
      assert :ok = @store.save_keys(dir, :session, "big.0", record)
      assert File.stat!(Path.join(dir, "session-big.0" <> @ext)).size > 64 * 1024
      assert {:ok, ^record} = @store.load_keys(dir, :session, "big.0")
    end

    @tag :tmp_dir
    test "#{name}: a large corrupt file is an error, not a crash", %{tmp_dir: dir} do
      :ok = @store.save_keys(dir, :session, "big.0", big_session())
      path = Path.join(dir, "session-big.0" <> @ext)
      bytes = File.read!(path)
      File.write!(path, binary_part(bytes, 0, byte_size(bytes) - 10))
      assert {:error, _} = @store.load_keys(dir, :session, "big.0")
    end
  end

  @tag :tmp_dir
  test "large credentials roundtrip through the ETF backend", %{tmp_dir: dir} do
    state = %{BaileysEx.Auth.State.new() | additional_data: %{blob: :binary.copy(<<1>>, 100_000)}}
    assert :ok = Etf.save_credentials(dir, state)
    assert {:ok, ^state} = Etf.load_credentials(dir)
  end
end
