defmodule BaileysEx.Auth.NIF.Reliability.DirectoryStateTest do
  @moduledoc """
  The state the NIF keeps per directory (locks, the decoded manifest) is
  bounded: a VM that serves many accounts does not grow with every
  directory it has ever used. Measured in a VM of its own, as resident
  memory of the OS process: 300 directories with 10,000-key manifests, each
  used once, held about 270 MB before the cache had a budget.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, SubVM}

  @moduletag timeout: 600_000
  @probe "BaileysEx.Auth.NIF.Test.Reliability.DirectoryMemoryProbe.main(System.argv())"
  @directories 300
  @keys 10_000
  # The cache's budget is 64 MiB; the rest is room for the allocator.
  @limit_mb 160

  @tag :tmp_dir
  test "many directories with large manifests, used once each, keep memory bounded",
       %{tmp_dir: tmp} do
    for backend <- Backend.all() do
      root = Path.join(tmp, Atom.to_string(backend.name))
      File.mkdir_p!(root)
      args = [Atom.to_string(backend.name), root, "#{@directories}", "#{@keys}"]
      assert {0, lines} = SubVM.run(@probe, args, [], 300_000)
      assert [before, later] = rss(lines), inspect(lines)
      growth_mb = div(later - before, 1024)

      IO.puts(
        "\ndirectory state: #{backend.name}: #{@directories} directories with #{@keys}-key " <>
          "manifests used once: resident memory #{div(before, 1024)} MB -> " <>
          "#{div(later, 1024)} MB (+#{growth_mb} MB)"
      )

      assert growth_mb < @limit_mb
    end
  end

  defp rss(lines) do
    Enum.find_value(lines, [], fn line ->
      case String.split(line) do
        ["RSS_KB", before, later] -> [String.to_integer(before), String.to_integer(later)]
        _ -> nil
      end
    end)
  end
end
