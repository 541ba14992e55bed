# Reloads what `demo/write.exs` wrote, in a VM that never saw those terms,
# and checks every value against what was written.
[dir, backend] = System.argv()

store =
  case backend do
    "etf" -> BaileysEx.Auth.NIF.NativeFilePersistence
    "json" -> BaileysEx.Auth.NIF.FilePersistence
  end

# Load before anything else creates atoms, so this is a genuinely fresh VM.
{:ok, loaded} = store.load_credentials(dir)
{:ok, index} = store.list_persisted_keys(dir)

loaded_keys =
  for {type, ids} <- index, id <- ids, into: %{} do
    {{type, id}, store.load_keys(dir, type, id)}
  end

{state, keys} = dir |> Path.join("demo-expected.bin") |> File.read!() |> :erlang.binary_to_term()

IO.puts(
  "creds: #{if loaded == state, do: "identical", else: "DIFFERENT"} (registered: #{loaded.registered})"
)

results =
  for {type, id, value} <- keys do
    ok? = Map.get(loaded_keys, {type, to_string(id)}) == {:ok, value}

    IO.puts(
      "  #{String.pad_trailing(inspect(type), 26)} #{String.pad_trailing(to_string(id), 42)} #{if ok?, do: "identical", else: "DIFFERENT"}"
    )

    ok?
  end

IO.puts(
  "list_persisted_keys: #{index |> Map.values() |> List.flatten() |> length()} ids over #{map_size(index)} types"
)

if loaded != state or not Enum.all?(results) do
  IO.puts("demo FAILED: a reloaded value differs")
  System.halt(1)
end

IO.puts("demo OK: #{inspect(store)} reloaded every value intact in a fresh VM")
