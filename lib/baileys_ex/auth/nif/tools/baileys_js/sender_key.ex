defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.SenderKey do
  @moduledoc false
  # Sender-key records both ways: Baileys JS's `SenderKeyRecord#serialize()`
  # (a list of SenderKeyStateStructure objects: senderKeyId, senderChainKey
  # {iteration, seed}, senderSigningKey {public, private?},
  # senderMessageKeys [{iteration, seed}]) and BaileysEx's sender-key JSON,
  # which the NIF decodes into `%SenderKeyRecord{}` (re-deriving each
  # message key's iv and cipher key from its seed, as BaileysEx does).
  #
  # The two Baileys versions store that list differently. 6.x stores the
  # list itself, bytes as base64 text (protobufjs's toJSON). 7.x's
  # storeSenderKey stores a Buffer of the list's UTF-8 JSON text (so the
  # file holds `{"type":"Buffer","data":"<base64>"}`), and inside that text
  # every byte field is Node's own Buffer JSON, `{"type":"Buffer","data":
  # [byte, ...]}`, which its SenderKeyRecord.deserialize reads back.

  import BaileysEx.Auth.NIF.Tools.BaileysJS.Convert

  alias BaileysEx.Auth.NIF.Tools.BaileysJS.BufferJSON
  alias BaileysEx.Auth.NIF.Tools.JSON

  @state_keys ~w(senderKeyId senderChainKey senderSigningKey senderMessageKeys)

  @doc "Baileys JS's sender-key value, in either version's shape, to BaileysEx's JSON."
  @spec to_ex(term()) :: map()
  def to_ex(js) do
    states =
      js
      |> states_in()
      |> Enum.with_index()
      |> Enum.map(fn {state, i} -> state_in(object(state, ["#{i}"]), ["#{i}"]) end)

    %{"sender_key_states" => states}
  end

  # Detected per file: 6.x's list (or a record object holding it under
  # senderKeyStates), or 7.x's Buffer of JSON text.
  defp states_in(states) when is_list(states), do: states
  defp states_in(%{"senderKeyStates" => states}), do: list(states, ["senderKeyStates"])

  defp states_in(%{"type" => "Buffer"} = buffer) do
    case JSON.decode(BufferJSON.bytes(buffer, ["data"])) do
      {:ok, states} when is_list(states) -> states
      {:ok, _other} -> fail(["data"], :sender_key_text_not_a_list_of_states)
      {:error, reason} -> fail(["data"], {:sender_key_text_not_json, reason})
    end
  end

  defp states_in(_other), do: fail([], :not_a_baileys_sender_key_record)

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
        "private" => private_in(signing["private"], path ++ ["senderSigningKey", "private"])
      },
      "sender_message_keys" => message_keys
    }
  end

  # Another member's state has no private key: 6.x leaves it out, 7.x
  # writes an empty Buffer.
  defp private_in(nil, _path), do: nil

  defp private_in(value, path) do
    case BufferJSON.bytes(value, path) do
      "" -> nil
      bytes -> BufferJSON.buffer(bytes)
    end
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
  BaileysEx's sender-key JSON (as the NIF writes it) to the value Baileys
  `version` (6 or 7) stores. For 6.x the list itself: chain seed and signing
  keys as base64 strings (as protobufjs's toJSON writes them, and Baileys
  reads them), message-key seeds as Buffer objects, which Baileys'
  SenderMessageKey needs as Buffers. For 7.x a Buffer of the list's JSON
  text, every byte field in it a Node Buffer (a missing private key an
  empty one, as 7.x writes it for another member's state).
  """
  @spec to_js(map(), 6 | 7) :: list() | map()
  def to_js(ex, 6), do: ex |> states_out() |> Enum.map(&state_v6/1)

  def to_js(ex, 7) do
    text = ex |> states_out() |> Enum.map(&state_v7/1) |> JSON.encode()
    BufferJSON.buffer(IO.iodata_to_binary(text))
  end

  defp states_out(ex) do
    for state <- Map.get(ex, "sender_key_states", []) do
      signing = state["sender_signing_key"] || %{}
      path = ["sender_key_states"]
      bytes = &BufferJSON.bytes(&1, path)

      %{
        id: state["sender_key_id"],
        iteration: state["sender_chain_key"]["iteration"],
        seed: bytes.(state["sender_chain_key"]["seed"]),
        public: bytes.(signing["public"]),
        private: signing["private"] && bytes.(signing["private"]),
        message_keys:
          for mk <- state["sender_message_keys"] || [] do
            {mk["iteration"], bytes.(mk["seed"])}
          end
      }
    end
  end

  defp state_v6(state) do
    %{
      "senderKeyId" => state.id,
      "senderChainKey" => %{"iteration" => state.iteration, "seed" => Base.encode64(state.seed)},
      "senderSigningKey" =>
        compact(%{
          "public" => Base.encode64(state.public),
          "private" => state.private && Base.encode64(state.private)
        }),
      "senderMessageKeys" =>
        for {iteration, seed} <- state.message_keys do
          %{"iteration" => iteration, "seed" => BufferJSON.buffer(seed)}
        end
    }
  end

  defp state_v7(state) do
    node = &BufferJSON.node_buffer/1

    %{
      "senderKeyId" => state.id,
      "senderChainKey" => %{"iteration" => state.iteration, "seed" => node.(state.seed)},
      "senderSigningKey" => %{
        "public" => node.(state.public),
        "private" => node.(state.private || "")
      },
      "senderMessageKeys" =>
        for {iteration, seed} <- state.message_keys do
          %{"iteration" => iteration, "seed" => node.(seed)}
        end
    }
  end
end
