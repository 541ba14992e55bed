defmodule BaileysEx.Auth.NIF.Reliability.TwoOsProcessesTest do
  @moduledoc """
  Separate OS processes (unconnected VMs) writing distinct keys into one
  directory at the same time never lose a manifest update: the directory
  lock (flock) serialises their read-modify-write of the manifest.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, SubVM}

  @moduletag timeout: :infinity
  @writer "BaileysEx.Auth.NIF.Test.Reliability.SharedDirWriter.main(System.argv())"

  @tag :tmp_dir
  test "two VMs writing one directory keep every key in the manifest", %{tmp_dir: tmp_dir} do
    for backend <- Backend.all(), do: race(backend, tmp_dir, 2, 150)
  end

  @tag :stress
  @tag :tmp_dir
  test "four VMs writing one directory, ten times over", %{tmp_dir: tmp_dir} do
    for backend <- Backend.all(), round <- 1..10 do
      race(backend, Path.join(tmp_dir, "round#{round}"), 4, 400)
    end
  end

  defp race(backend, tmp_dir, writers, count) do
    dir = Path.join(tmp_dir, Atom.to_string(backend.name))
    go = Path.join(tmp_dir, "go-#{backend.name}")
    prefixes = for w <- 1..writers, do: "w#{w}"

    vms =
      for prefix <- prefixes do
        SubVM.start(@writer, [
          Atom.to_string(backend.name),
          dir,
          prefix,
          "#{count}",
          go,
          "#{writers}"
        ])
      end

    for vm <- vms, do: assert({:ok, _, _} = SubVM.await_line(vm, &(&1 == "READY"), 60_000))
    File.write!(go, "")

    spans =
      for vm <- vms do
        assert {:exit, 0, lines} = SubVM.collect(vm, 300_000)
        ["DONE", first, last, _] = lines |> List.last() |> String.split(" ")
        {String.to_integer(first), String.to_integer(last)}
      end

    # Every writer started before every other one finished (the writers wait
    # for each other halfway, so this holds however busy the machine is).
    latest_start = spans |> Enum.map(&elem(&1, 0)) |> Enum.max()
    earliest_end = spans |> Enum.map(&elem(&1, 1)) |> Enum.min()
    assert latest_start < earliest_end, "the writers did not overlap: #{inspect(spans)}"

    expected = Enum.sort(for prefix <- prefixes, n <- 1..count, do: "#{prefix}-#{n}")
    assert {:ok, %{"device-list" => listed}} = Backend.manifest(backend, dir)
    missing = expected -- listed
    assert missing == [], "#{backend.name}: #{length(missing)} keys lost from the manifest"
    assert Enum.sort(listed) == expected

    for prefix <- prefixes, n <- [1, count] do
      assert {:ok, %{"writer" => ^prefix, "n" => ^n}} =
               backend.module.load_keys(dir, :"device-list", "#{prefix}-#{n}")
    end

    assert {:ok, creds} = backend.module.load_credentials(dir)
    assert {:ok, _} = Backend.check_creds(creds)
    assert Backend.temp_files(dir) == []

    overlap_ms = div(earliest_end - latest_start, 1000)

    IO.puts(
      "\ntwo OS processes: #{backend.name}: #{writers} VMs x #{count} keys into one directory, " <>
        "overlapping for #{overlap_ms} ms; manifest lists all #{length(expected)}, 0 lost"
    )
  end
end
