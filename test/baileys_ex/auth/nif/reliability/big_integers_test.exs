defmodule BaileysEx.Auth.NIF.Reliability.BigIntegersTest do
  @moduledoc """
  Integers of any size cost time linear in their size, or are refused at
  once past a documented bound:

    * ETF keeps an integer in the VM's own form, so a manifest whose
      `"version"` is a huge integer is refused as the original refuses it,
      `{:unsupported_persistence_version, module, version}`, carrying the
      integer;
    * JSON needs decimal text, whose conversion is quadratic: an integer
      longer than 10,000 decimal digits, in a file or in a value to save, is
      `{:error, {:integer_too_large, 10_000}}`, and nothing is written;
    * a JSON manifest version beyond 64 bits is still an unsupported version,
      as `JSON.decode/1` reads it as an integer.

  Each call must answer within `@deadline` ms; it takes milliseconds. The
  deadline only turns a runaway conversion into a failure instead of a hung
  suite; nothing here measures time.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Baseline
  alias BaileysEx.Auth.NIF.{FilePersistence, NativeFilePersistence}

  @moduletag :tmp_dir
  @deadline 60_000
  @bound 10_000
  @etf_manifest ".baileys_ex_native_file_persistence.etf"
  @json_manifest ".baileys_ex_file_persistence.json"

  defp answer(fun) do
    task = Task.async(fun)

    case Task.yield(task, @deadline) || Task.shutdown(task, :brutal_kill) do
      {:ok, result} -> result
      nil -> flunk("no answer within #{@deadline} ms")
    end
  end

  defp digits(n, digit \\ "7"), do: String.duplicate(digit, n)

  describe "ETF" do
    test "a manifest whose version is a 256 KiB integer is an unsupported version", %{
      tmp_dir: dir
    } do
      version = Integer.pow(2, 8 * 256 * 1024) - 12_345

      manifest = %{
        "backend" => "native_file_persistence",
        "key_index" => %{},
        "version" => version
      }

      File.write!(Path.join(dir, @etf_manifest), :erlang.term_to_binary(manifest))
      refused = {:error, {:unsupported_persistence_version, NativeFilePersistence, version}}

      # Every call re-reads the manifest; each one is refused the same way.
      for _ <- 1..3 do
        assert answer(fn -> NativeFilePersistence.load_keys(dir, :session, "1") end) == refused
      end

      assert answer(fn -> NativeFilePersistence.save_keys(dir, :session, "1", %{a: 1}) end) ==
               refused

      assert answer(fn -> NativeFilePersistence.list_persisted_keys(dir) end) == refused
      assert File.ls!(dir) == [@etf_manifest]
    end

    test "huge integers in values round-trip", %{tmp_dir: dir} do
      value = %{big: Integer.pow(3, 1_000_000), negative: -Integer.pow(2, 3_000_000)}

      assert answer(fn -> NativeFilePersistence.save_keys(dir, :"device-list", "x", value) end) ==
               :ok

      assert answer(fn -> NativeFilePersistence.load_keys(dir, :"device-list", "x") end) ==
               {:ok, value}
    end
  end

  describe "JSON files" do
    test "an integer of #{@bound} digits loads; one more digit is refused", %{tmp_dir: dir} do
      longest = digits(@bound)
      File.write!(Path.join(dir, "device-list-ok.json"), ~s({"n":-#{longest}}))
      expected = -String.to_integer(longest)

      assert answer(fn -> FilePersistence.load_keys(dir, :"device-list", "ok") end) ==
               {:ok, %{"n" => expected}}

      for {id, text} <- [
            {"over", ~s({"n":#{digits(@bound + 1)}})},
            {"far-over", ~s([1,#{digits(160_000, "9")}])}
          ] do
        File.write!(Path.join(dir, "device-list-#{id}.json"), text)

        assert answer(fn -> FilePersistence.load_keys(dir, :"device-list", id) end) ==
                 {:error, {:integer_too_large, @bound}}
      end
    end

    test "an integer-keyed map key past the bound is refused too", %{tmp_dir: dir} do
      # Session message keys are integers written as object keys.
      File.write!(
        Path.join(dir, "session-x.json"),
        ~s({"sessions":{"AQ==":{"chains":{"AQ==":{"chain_key":{"counter":0,"key":null},) <>
          ~s("chain_type":"sending","message_keys":{"#{digits(@bound + 1)}":null}}}}}})
      )

      assert answer(fn -> FilePersistence.load_keys(dir, :session, "x") end) ==
               {:error, {:integer_too_large, @bound}}
    end

    test "saving an integer past the bound is refused and writes nothing", %{tmp_dir: dir} do
      longest = String.to_integer(digits(@bound, "9"))

      assert answer(fn ->
               FilePersistence.save_keys(dir, :"device-list", "ok", %{"n" => longest})
             end) ==
               :ok

      assert answer(fn -> FilePersistence.load_keys(dir, :"device-list", "ok") end) ==
               {:ok, %{"n" => longest}}

      before = File.ls!(dir) |> Enum.sort()

      for value <- [
            %{"n" => longest + 1},
            %{"n" => [-(longest + 1)]},
            %{"n" => Integer.pow(256, 40 * 1024) - 1}
          ] do
        assert answer(fn -> FilePersistence.save_keys(dir, :"device-list", "big", value) end) ==
                 {:error, {:integer_too_large, @bound}}
      end

      assert File.ls!(dir) |> Enum.sort() == before
    end
  end

  describe "JSON manifest" do
    defp json_manifest(dir, version_text) do
      File.write!(
        Path.join(dir, @json_manifest),
        ~s({"backend":"file_persistence","key_index":{},"version":#{version_text}})
      )
    end

    test "a version beyond 64 bits is an unsupported version, as in the original", %{
      tmp_dir: dir
    } do
      for version <- [Integer.pow(2, 64), -Integer.pow(2, 63) - 1, Integer.pow(10, 300)] do
        json_manifest(dir, Integer.to_string(version))

        assert answer(fn -> FilePersistence.load_keys(dir, :session, "1") end) ==
                 {:error, {:unsupported_persistence_version, FilePersistence, version}}

        assert Baseline.FilePersistence.load_keys(dir, :session, "1") ==
                 {:error, {:unsupported_persistence_version, Baseline.FilePersistence, version}}
      end
    end

    test "a version past the digit bound is refused as bad metadata", %{tmp_dir: dir} do
      json_manifest(dir, digits(@bound + 1))

      assert answer(fn -> FilePersistence.load_keys(dir, :session, "1") end) ==
               {:error,
                {:invalid_persistence_metadata, FilePersistence, {:integer_too_large, @bound}}}
    end
  end
end
