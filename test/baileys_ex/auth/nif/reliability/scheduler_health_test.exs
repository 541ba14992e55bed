defmodule BaileysEx.Auth.NIF.Reliability.SchedulerHealthTest do
  @moduledoc """
  No NIF call runs on a normal scheduler.

  The library records, from inside each NIF, the kind of scheduler thread it
  runs on (`enif_thread_type`). After driving every call of both backends,
  small values and large ones (a large file's load goes through the separate
  decode NIFs), commits and batch loads included, each NIF must have run only
  where it belongs: `encode`, `decode`, `encode_many` and `decode_many` on
  dirty CPU schedulers, everything that touches the disk on dirty IO
  schedulers. That is a fact about threads, not a timing, so a busy
  machine cannot change the outcome.

  How late a normal scheduler's processes get while large values are saved
  is a timing, and is reported (never asserted) by the `:stress` test below
  and `make stress`: with the default flags and with `+S 1`.
  """
  use ExUnit.Case, async: false

  alias BaileysEx.Auth.NIF
  alias BaileysEx.Auth.NIF.Test.Reliability.{Backend, SchedulerProbe, SubVM}

  @where %{
    "encode" => ["dirty_cpu"],
    "decode" => ["dirty_cpu"],
    "encode_many" => ["dirty_cpu"],
    "decode_many" => ["dirty_cpu"]
  }

  @tag :tmp_dir
  test "every NIF runs only on its dirty scheduler", %{tmp_dir: tmp_dir} do
    on_exit(fn ->
      for backend <- Backend.all(),
          do: Application.delete_env(:baileys_ex_nif_persistence, backend.module)
    end)

    large = Map.new(1..400, &{"k#{&1}", :binary.copy(<<&1>>, 400)})

    for backend <- Backend.all() do
      module = backend.module
      dir = Path.join(tmp_dir, Atom.to_string(backend.name))

      for {id, value} <- [{"small", %{"a" => 1}}, {"large", large}] do
        assert :ok = module.save_keys(dir, :"device-list", id, value)
        assert {:ok, _} = module.load_keys(dir, :"device-list", id)
      end

      many = %{"small" => %{"a" => 2}, "large" => large, "gone" => nil}
      assert :ok = module.commit(dir, %{"device-list": many}, credentials: Backend.creds(1))
      ids = ["small", "large", "gone"]
      assert {:ok, %{"small" => _, "large" => _}} = module.load_many(dir, :"device-list", ids)
      assert {:ok, _} = module.load_credentials(dir)
      assert {:ok, %{}} = module.list_persisted_keys(dir)
      assert :ok = module.delete_keys(dir, :"device-list", "small")
      assert {:ok, auth} = apply(module, backend.helper, [dir])
      assert :ok = auth.save_creds.(auth.state)
      # Without a path the helper resolves the configured default directory.
      Application.put_env(:baileys_ex_nif_persistence, module, path: dir)
      assert {:ok, _} = apply(module, backend.helper, [])
    end

    use = Map.new(NIF.scheduler_use())

    for {nif, kinds} <- use do
      expected = Map.get(@where, nif, ["dirty_io"])
      assert kinds == expected, "#{nif} ran on #{inspect(kinds)}, expected #{inspect(expected)}"
    end

    assert map_size(use) == 13
  end

  @tag :stress
  @tag :tmp_dir
  test "report: how late a 1 ms ticker gets during thirty seconds of large writes",
       %{tmp_dir: tmp_dir} do
    for backend <- Backend.all(), flags <- [nil, "+S 1"] do
      dir = Path.join(tmp_dir, "#{backend.name}-#{flags}")
      report = probe(backend, dir, flags, 30_000)
      IO.puts("\n" <> SchedulerProbe.describe(report, backend, flags || "default flags"))
      assert report.saves > 0, "the writers must get work done"
      File.rm_rf!(dir)
    end
  end

  defp probe(backend, dir, nil, duration),
    do: SchedulerProbe.run(backend: backend, dir: dir, writers: 8, duration_ms: duration)

  defp probe(backend, dir, flags, duration) do
    {status, lines} =
      SubVM.run(
        "BaileysEx.Auth.NIF.Test.Reliability.SchedulerProbe.main(System.argv())",
        [Atom.to_string(backend.name), dir, Integer.to_string(duration)],
        [erl: flags],
        duration + 120_000
      )

    assert status == 0, Enum.join(lines, "\n")
    "REPORT " <> encoded = Enum.find(lines, &String.starts_with?(&1, "REPORT "))
    encoded |> Base.decode64!() |> :erlang.binary_to_term()
  end
end
