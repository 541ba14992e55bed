defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.SenderKey do
  @moduledoc false
  # Sender-key records both ways: Baileys JS's `SenderKeyRecord#serialize()`
  # (a list of SenderKeyStateStructure objects: senderKeyId, senderChainKey
  # {iteration, seed}, senderSigningKey {public, private?},
  # senderMessageKeys [{iteration, seed}], bytes as Buffer objects) and
  # BaileysEx's sender-key JSON, which the NIF decodes into
  # `%SenderKeyRecord{}` (re-deriving each message key's iv and cipher key
  # from its seed, as BaileysEx does).

  import BaileysEx.Auth.NIF.Tools.BaileysJS.Convert

  @state_keys ~w(senderKeyId senderChainKey senderSigningKey senderMessageKeys)

  @doc "Baileys JS's list of states to BaileysEx's sender-key JSON."
  @spec to_ex(term()) :: map()
  def to_ex(js) do
    states =
      js
      |> states_in()
      |> Enum.with_index()
      |> Enum.map(fn {state, i} -> state_in(object(state, ["#{i}"]), ["#{i}"]) end)

    %{"sender_key_states" => states}
  end

  # Baileys 7 keeps the same list; a record object with the list under
  # senderKeyStates is accepted too.
  defp states_in(%{"senderKeyStates" => states}), do: list(states, ["senderKeyStates"])
  defp states_in(states), do: list(states, [])

  defp state_in(state, path) do
    drop_unknown(state, @state_keys, path, "not part of a sender-key state")
    chain = object(state["senderChainKey"], path ++ ["senderChainKey"])
    signing = object(state["senderSigningKey"], path ++ ["senderSigningKey"])

    keys_path = path ++ ["senderMessageKeys"]

    message_keys =
      state
      |> Map.get("senderMessageKeys", [])
      |> list(keys_path)
      |> Enum.with_index()
      |> Enum.flat_map(fn {mk, j} -> message_key_in(mk, keys_path ++ ["#{j}"]) end)

    %{
      "sender_key_id" => integer(state["senderKeyId"], path ++ ["senderKeyId"]),
      "sender_chain_key" => %{
        # protobufjs leaves a zero iteration out of an object it built.
        "iteration" => integer(Map.get(chain, "iteration", 0), path ++ ["iteration"]),
        "seed" => buffer(chain["seed"], path ++ ["senderChainKey", "seed"])
      },
      "sender_signing_key" => %{
        "public" => buffer(signing["public"], path ++ ["senderSigningKey", "public"]),
        "private" => opt_buffer(signing["private"], path ++ ["senderSigningKey", "private"])
      },
      "sender_message_keys" => message_keys
    }
  end

  # Baileys 6.x stores each skipped message key through the wrong protobuf
  # type, so its toJSON writes `{}`: no seed, nothing to import.
  defp message_key_in(mk, path) do
    case object(mk, path) do
      %{"seed" => seed} = mk ->
        [
          %{
            "iteration" => integer(Map.get(mk, "iteration", 0), path),
            "seed" => buffer(seed, path)
          }
        ]

      _empty ->
        drop(
          Enum.take(path, 1) ++ ["senderMessageKeys", "*"],
          "Baileys 6.x wrote it without its seed"
        )

        []
    end
  end

  @doc """
  BaileysEx's sender-key JSON (as the NIF writes it) to Baileys JS's list:
  chain seed and signing keys as base64 strings (as protobufjs's toJSON
  writes them, and Baileys reads them), message-key seeds as Buffer
  objects, which Baileys' SenderMessageKey needs as Buffers.
  """
  @spec to_js(map()) :: list()
  def to_js(ex) do
    ex
    |> Map.get("sender_key_states", [])
    |> Enum.map(fn state ->
      path = ["sender_key_states"]
      signing = state["sender_signing_key"] || %{}

      %{
        "senderKeyId" => state["sender_key_id"],
        "senderChainKey" => %{
          "iteration" => state["sender_chain_key"]["iteration"],
          "seed" => base64(state["sender_chain_key"]["seed"], path)
        },
        "senderSigningKey" =>
          compact(%{
            "public" => base64(signing["public"], path),
            "private" => signing["private"] && base64(signing["private"], path)
          }),
        "senderMessageKeys" =>
          Enum.map(state["sender_message_keys"] || [], fn mk ->
            %{"iteration" => mk["iteration"], "seed" => buffer(mk["seed"], path)}
          end)
      }
    end)
  end
end
