# Writes credentials and one key of every persisted type through one of the
# NIF backends (etf or json), then prints the directory. `demo/read.exs`
# reloads it in a new VM.
alias BaileysEx.Auth.State

[dir, backend] = System.argv()

store =
  case backend do
    "etf" -> BaileysEx.Auth.NIF.NativeFilePersistence
    "json" -> BaileysEx.Auth.NIF.FilePersistence
  end

state = %{
  State.new()
  | registered: true,
    platform: "demo",
    me: %{id: "15551234567:1@s.whatsapp.net", name: "Demo"}
}

session_key = :crypto.strong_rand_bytes(33)

session = %BaileysEx.Signal.SessionRecord{
  sessions: %{
    session_key => %{
      current_ratchet: %{
        root_key: :crypto.strong_rand_bytes(32),
        ephemeral_key_pair: %{
          public: :crypto.strong_rand_bytes(32),
          private: :crypto.strong_rand_bytes(32)
        },
        last_remote_ephemeral: :crypto.strong_rand_bytes(33),
        previous_counter: 0
      },
      index_info: %{
        remote_identity_key: :crypto.strong_rand_bytes(33),
        local_identity_key: :crypto.strong_rand_bytes(33),
        base_key: session_key,
        base_key_type: :sending,
        closed: nil
      },
      chains: %{},
      pending_pre_key: nil,
      registration_id: 4242
    }
  }
}

keys = [
  {:session, "15551234567.0", session},
  {:"pre-key", 1,
   %{public: :crypto.strong_rand_bytes(32), private: :crypto.strong_rand_bytes(32)}},
  {:"sender-key", "120363000000000001@g.us::15551234567::0",
   %BaileysEx.Signal.Group.SenderKeyRecord{sender_key_states: []}},
  {:"sender-key-memory", "120363000000000001@g.us", %{"15551234567:1@s.whatsapp.net" => true}},
  {:"app-state-sync-key", "AAAAAJ0x", %{key_data: :crypto.strong_rand_bytes(32)}},
  {:"app-state-sync-version", "regular_high",
   %{version: 3, hash: :crypto.strong_rand_bytes(128), index_value_map: %{}}},
  {:"lid-mapping", "15551234567", "123456789012345"},
  {:"device-list", "15551234567", ["0", "1"]},
  {:tctoken, "15551234567@s.whatsapp.net",
   %{token: <<1, 2, 3>>, timestamp: "1710000000", sender_timestamp: 1_710_000_000}},
  {:"identity-key", "15551234567.0", :crypto.strong_rand_bytes(33)}
]

{elapsed, :ok} =
  :timer.tc(fn ->
    :ok = store.save_credentials(dir, state)
    Enum.each(keys, fn {type, id, value} -> :ok = store.save_keys(dir, type, id, value) end)
  end)

IO.puts(
  "#{inspect(store)} wrote creds and #{length(keys)} keys to #{dir} in #{div(elapsed, 1000)} ms:"
)

for name <- Enum.sort(File.ls!(dir)) do
  IO.puts("  #{String.pad_trailing(name, 60)} #{File.stat!(Path.join(dir, name)).size} bytes")
end

File.write!(Path.join(dir, "demo-expected.bin"), :erlang.term_to_binary({state, keys}))
