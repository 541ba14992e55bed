defmodule BaileysEx.Auth.NIF.Tools.VerifyTest do
  @moduledoc """
  `Tools.verify/2` names every kind of damage the tests make, on copies of
  the fixture directories of both backends, and never writes into the
  directory it checks.
  """
  use ExUnit.Case, async: true

  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Tools

  @manifest %{
    etf: ".baileys_ex_native_file_persistence.etf",
    json: ".baileys_ex_file_persistence.json"
  }
  @commit %{
    etf: ".baileys_ex_native_file_persistence.commit",
    json: ".baileys_ex_file_persistence.commit"
  }

  for backend <- [:etf, :json] do
    @backend backend
    @ext ".#{backend}"

    describe "#{backend}" do
      test "the fixture directory is intact: lossy ids are notes, nothing else" do
        assert {:ok, report} = Tools.verify(Fixtures.dir(@backend))
        assert report.backend == @backend
        assert report.status == :ok
        assert report.keys == 24

        assert Enum.sort(Enum.map(report.problems, &{&1.kind, &1.file})) == [
                 {:lossy_name, "device-list-alice__device-0" <> @ext},
                 {:lossy_name, "pre-key-josé__📱-1" <> @ext}
               ]
      end

      @tag :tmp_dir
      test "a truncated key file is damage", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        file = "session-15559876543.0" <> @ext
        bytes = File.read!(Path.join(dir, file))
        File.write!(Path.join(dir, file), binary_part(bytes, 0, div(byte_size(bytes), 2)))

        assert_problem(dir, file, :error, :undecodable)
      end

      @tag :tmp_dir
      test "flipped bytes in creds are damage", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        file = "creds" <> @ext
        path = Path.join(dir, file)
        <<head::binary-size(1), rest::binary>> = File.read!(path)
        File.write!(path, <<:erlang.bxor(:binary.first(head), 0xFF)>> <> rest)

        assert_problem(dir, file, :error, :undecodable)
      end

      @tag :tmp_dir
      test "a manifest that lists a missing key, and a key it does not list", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        File.rm!(Path.join(dir, "pre-key-2" <> @ext))
        File.cp!(Path.join(dir, "pre-key-1" <> @ext), Path.join(dir, "pre-key-77" <> @ext))

        report = assert_problem(dir, "pre-key-2" <> @ext, :error, :indexed_missing)
        assert problem(report, "pre-key-77" <> @ext).kind == :unindexed
        assert problem(report, "pre-key-77" <> @ext).severity == :warning
      end

      @tag :tmp_dir
      test "a manifest of the other backend is damage", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        other = if @backend == :etf, do: :json, else: :etf
        wrong = File.read!(Path.join(Fixtures.dir(other), @manifest[other]))
        File.write!(Path.join(dir, @manifest[@backend]), wrong)

        assert_problem(dir, @manifest[@backend], :error, :bad_manifest)
      end

      @tag :tmp_dir
      test "orphan temporary files (both spellings) are warnings", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        File.write!(Path.join(dir, "pre-key-1" <> @ext <> ".tmp-12"), "half")
        File.write!(Path.join(dir, "creds" <> @ext <> ".tmp-4242-7"), "")

        report = assert_problem(dir, "pre-key-1" <> @ext <> ".tmp-12", :warning, :orphan_temp)
        assert problem(report, "creds" <> @ext <> ".tmp-4242-7").kind == :orphan_temp
        assert report.status == :warnings
      end

      @tag :tmp_dir
      test "a FIFO in a key file's place is damage", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        file = "pre-key-1" <> @ext
        File.rm!(Path.join(dir, file))
        {_, 0} = System.cmd("mkfifo", [Path.join(dir, file)])

        report = assert_problem(dir, file, :error, :not_regular)
        assert problem(report, file).message =~ "FIFO"
      end

      @tag :tmp_dir
      test "a directory in a file's place is damage", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        file = "tctoken-98765432109876@lid" <> @ext
        File.rm!(Path.join(dir, file))
        File.mkdir!(Path.join(dir, file))

        report = assert_problem(dir, file, :error, :not_regular)
        assert problem(report, file).message =~ "directory"
      end

      @tag :tmp_dir
      test "an unreadable file is damage", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        file = "pre-key-1" <> @ext
        File.rm!(Path.join(dir, file))
        File.ln_s!(Path.join(dir, "nowhere"), Path.join(dir, file))

        assert_problem(dir, file, :error, :unreadable)
      end

      @tag :tmp_dir
      test "a half-done commit and an unknown file are warnings", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        File.write!(Path.join(dir, @commit[@backend]), "record")
        File.write!(Path.join(dir, "notes.txt"), "hi")

        report = assert_problem(dir, @commit[@backend], :warning, :half_done_commit)

        assert problem(report, @commit[@backend]).message ==
                 "a commit left half done (the library completes or drops it when it next opens the directory)"

        assert problem(report, "notes.txt").kind == :unknown_file
        assert report.status == :warnings
      end

      @tag :tmp_dir
      test "verify leaves the directory byte for byte and mtime identical", %{tmp_dir: tmp} do
        dir = Fixtures.copy_to_tmp(@backend, tmp)
        # Everything the drop-ins would clean up or recover on opening.
        File.write!(Path.join(dir, @commit[@backend]), "record")
        File.write!(Path.join(dir, "pre-key-1" <> @ext <> ".tmp-99-1"), "half")
        File.mkdir!(Path.join(dir, "sub"))
        old = DateTime.to_unix(~U[2020-01-01 00:00:00Z])
        for name <- File.ls!(dir), do: File.touch!(Path.join(dir, name), old)
        File.touch!(dir, old)
        before = snapshot(dir)

        assert {:ok, report} = Tools.verify(dir)
        assert report.status == :warnings
        assert snapshot(dir) == before
      end
    end
  end

  test "an unknown directory layout and a missing directory are errors" do
    assert {:error, :unknown_backend} = Tools.verify(Path.join(Fixtures.root(), "."), [])
    assert {:error, {:cannot_list, _, :enoent}} = Tools.verify("no/such/dir")
  end

  defp assert_problem(dir, file, severity, kind) do
    assert {:ok, report} = Tools.verify(dir)
    found = problem(report, file)
    assert found, "no problem named for #{file}: #{inspect(report.problems)}"
    assert {found.severity, found.kind} == {severity, kind}
    assert report.status == if(severity == :error, do: :damaged, else: report.status)
    report
  end

  defp problem(report, file), do: Enum.find(report.problems, &(&1.file == file))

  defp snapshot(dir) do
    {:ok, dir_stat} = File.lstat(dir, time: :posix)

    entries =
      for name <- Enum.sort(File.ls!(dir)) do
        path = Path.join(dir, name)
        {:ok, stat} = File.lstat(path, time: :posix)
        bytes = if stat.type == :regular, do: File.read!(path)
        {name, stat.type, stat.size, stat.mtime, bytes}
      end

    {dir_stat.mtime, entries}
  end
end
