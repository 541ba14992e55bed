defmodule BaileysEx.Auth.NIF.Tools.BaileysJSCorruptTest do
  @moduledoc """
  `Tools.import_baileys/3` over damaged copies of a folder Baileys JS 6.17.16
  wrote (the harness's committed sample, made-up keys): truncated files, flipped
  bytes, and JSON values replaced by values of other types, at random. Every
  call must return `{:ok, _}` or `{:error, _}`, never raise, and an error must
  leave nothing at the target.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Tools
  alias BaileysEx.Auth.NIF.Tools.JSON

  @sample Path.expand("../../../../baileys_js/sample/auth", __DIR__)
  # More rounds: BAILEYS_JS_CORRUPT_ROUNDS=2000.
  @rounds String.to_integer(System.get_env("BAILEYS_JS_CORRUPT_ROUNDS", "60"))
  @odd_values [nil, true, 0, -1, 1.5, "", "not base64!", [], %{}, [1, "x"], %{"type" => "Buffer"}]

  @tag :tmp_dir
  test "damaged folders give {:ok, _} or {:error, _}, and an error leaves no target", %{
    tmp_dir: tmp
  } do
    seed = :erlang.phash2(make_ref())
    :rand.seed(:exsss, {seed, 7, 11})
    names = File.ls!(@sample)

    outcomes =
      for round <- 1..@rounds do
        src = Path.join(tmp, "src-#{round}")
        File.cp_r!(@sample, src)
        for name <- Enum.take_random(names, Enum.random(1..3)), do: damage(Path.join(src, name))
        dst = Path.join(tmp, "dst-#{round}")

        result =
          try do
            Tools.import_baileys(src, dst, to: Enum.random([:etf, :json]))
          rescue
            error -> flunk("seed #{seed}, round #{round}: raised #{Exception.message(error)}")
          end

        case result do
          {:ok, _report} ->
            :ok

          {:error, _reason} ->
            refute File.exists?(dst), "seed #{seed}, round #{round}: #{inspect(result)}"
            :error
        end
      end

    # The damage is real: most rounds are refused.
    assert Enum.count(outcomes, &(&1 == :error)) > div(@rounds, 2), "seed #{seed}"

    IO.puts(
      "\nBaileys JS import, #{@rounds} damaged folders (seed #{seed}): " <>
        "#{Enum.count(outcomes, &(&1 == :ok))} imported, " <>
        "#{Enum.count(outcomes, &(&1 == :error))} refused"
    )
  end

  defp damage(path) do
    bytes = File.read!(path)

    damaged =
      case Enum.random([:truncate, :flip, :retype]) do
        :truncate ->
          binary_part(bytes, 0, :rand.uniform(max(byte_size(bytes), 1)) - 1)

        :flip ->
          at = :rand.uniform(byte_size(bytes)) - 1
          <<head::binary-size(at), byte, rest::binary>> = bytes
          <<head::binary, Bitwise.bxor(byte, :rand.uniform(255)), rest::binary>>

        :retype ->
          retype(bytes)
      end

    File.write!(path, damaged)
  end

  # Replaces one value somewhere in the JSON tree by a value of another kind.
  defp retype(bytes) do
    case JSON.decode(bytes) do
      {:ok, tree} -> tree |> replace_one() |> JSON.encode() |> IO.iodata_to_binary()
      {:error, _} -> bytes
    end
  end

  defp replace_one(%{} = map) when map_size(map) > 0 do
    key = map |> Map.keys() |> Enum.random()

    if :rand.uniform(3) == 1,
      do: Map.put(map, key, Enum.random(@odd_values)),
      else: Map.update!(map, key, &replace_one/1)
  end

  defp replace_one([_ | _] = list) do
    at = :rand.uniform(length(list)) - 1
    List.update_at(list, at, &replace_one/1)
  end

  defp replace_one(_leaf), do: Enum.random(@odd_values)
end
