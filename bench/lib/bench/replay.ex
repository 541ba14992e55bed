defmodule BaileysEx.Auth.NIF.Bench.Replay do
  @moduledoc """
  "A day of a busy account", replayed call by call against every
  implementation of a backend (interleaved, one directory each):

    1. pairing: credentials saved, the pre-keys uploaded one by one,
       credentials saved again;
    2. new sessions: one session record per contact;
    3. groups: per group, the sender keys of some members and our
       sender-key memory;
    4. session updates: existing sessions re-saved with their chain advanced,
       contacts picked uniformly at random (fixed seed);
    5. restart and full reload: nothing is dropped on the Elixir side, the
       next calls just start over: `list_persisted_keys`, `load_keys` of every
       saved key, `load_credentials`.

  Each phase is reported as the summed time of its calls; the reload also
  checks that every saved key is listed.
  """

  alias BaileysEx.Auth.NIF.Bench.{Calls, Config, Implementations, Row, Timing, Values, Workspace}

  @doc "Runs the replay; one row per phase plus one for the whole day."
  @spec run(Implementations.plan(), Workspace.t(), Config.t(), (String.t() -> any())) :: [Row.t()]
  def run(plan, ws, config, progress) do
    r = config.replay
    dirs = Map.new(plan.impls, &{&1.id, Workspace.fresh_dir(ws, "replay", &1.id)})
    creds = Values.credentials(11)
    session_ids = Enum.map(0..(r.sessions - 1), &"#{15_551_000_000 + &1}.0")
    sessions = List.to_tuple(session_ids)
    groups = for g <- 1..r.groups, do: group(g, r.senders_per_group)
    updates = update_picks(r.session_updates, r.sessions)

    pre_key_ops =
      [{:save_creds, creds}] ++
        Enum.map(1..r.pre_keys, &{:save, :"pre-key", &1, Values.pre_key(&1)}) ++
        [{:save_creds, creds}]

    session_ops =
      Stream.with_index(session_ids)
      |> Stream.map(fn {id, s} -> {:save, :session, id, {:session, s, 0}} end)

    group_ops =
      Enum.flat_map(groups, fn {jid, senders} ->
        Enum.map(senders, &{:save, :"sender-key", "#{jid}::#{&1}::0", {:sender_key, &1}}) ++
          [{:save, :"sender-key-memory", jid, {:memory, senders}}]
      end)

    update_ops =
      Stream.with_index(updates)
      |> Stream.map(fn {s, i} -> {:save, :session, elem(sessions, s), {:session, s, i + 1}} end)

    expected =
      Enum.map(1..r.pre_keys, &{:"pre-key", Integer.to_string(&1)}) ++
        Enum.map(session_ids, &{:session, &1}) ++
        Enum.flat_map(groups, fn {jid, senders} ->
          Enum.map(senders, &{:"sender-key", "#{jid}::#{&1}::0"}) ++
            [{:"sender-key-memory", jid}]
        end)

    reload_ops = [:list] ++ Enum.map(expected, fn {t, id} -> {:load, t, id} end) ++ [:load_creds]

    phases = [
      {"pairing: creds + #{r.pre_keys} pre-keys + creds", pre_key_ops},
      {"#{r.sessions} new sessions", session_ops},
      {"#{r.groups} groups: #{r.senders_per_group} sender keys + memory each", group_ops},
      {"#{r.session_updates} session updates", update_ops},
      {"restart: list + load #{length(expected)} keys + creds", reload_ops}
    ]

    rows =
      Enum.map(phases, fn {name, ops} ->
        progress.(name)
        {name, run_phase(plan, dirs, Enum.to_list(ops), config)}
      end)

    listed = Map.new(plan.impls, &{&1.id, Calls.count(Calls.list!(&1, dirs[&1.id]))})
    Workspace.discard(Map.values(dirs))

    note =
      "listed after reload: " <>
        Enum.map_join(plan.impls, ", ", &"#{&1.label} #{listed[&1.id]}") <>
        " of #{length(expected)} saved keys"

    phase_rows =
      Enum.map(rows, fn {name, samples} -> Row.total(:replay, "replay: #{name}", samples) end)

    whole =
      rows
      |> Enum.map(fn {_name, samples} -> samples end)
      |> Enum.reduce(fn samples, acc -> Map.merge(acc, samples, fn _id, a, b -> a ++ b end) end)

    phase_rows ++ [Row.total(:replay, "replay: whole day", whole, note: note)]
  end

  defp run_phase(plan, dirs, ops, config) do
    ops = List.to_tuple(ops)

    plan.impls
    |> Enum.map(fn impl ->
      dir = dirs[impl.id]

      %{
        id: impl.id,
        setup: fn i -> ops |> elem(i) |> materialize(config) end,
        run: fn _i, op -> execute(impl, dir, op) end
      }
    end)
    # A day is thousands of calls: larger blocks keep the write-backs few.
    |> Timing.interleave(count: tuple_size(ops), warmup: 0, block: 100)
  end

  # Values are built untimed, right before their call.
  defp materialize({:save, type, id, {:session, s, counter}}, config) do
    record = Values.session_record(10_000 + s, config.typical_message_keys)
    value = if counter == 0, do: record, else: Values.advance_session(record, counter)
    {:save, type, id, value}
  end

  defp materialize({:save, type, id, {:sender_key, sender}}, _config),
    do: {:save, type, id, Values.sender_key_record(:erlang.phash2({id, sender}))}

  defp materialize({:save, type, id, {:memory, senders}}, _config),
    do: {:save, type, id, Values.sender_key_memory(Enum.map(senders, &"#{&1}@s.whatsapp.net"))}

  defp materialize(op, _config), do: op

  defp execute(impl, dir, {:save, type, id, value}), do: Calls.save!(impl, dir, type, id, value)
  defp execute(impl, dir, {:save_creds, state}), do: Calls.save_credentials!(impl, dir, state)
  defp execute(impl, dir, {:load, type, id}), do: Calls.load!(impl, dir, type, id)
  defp execute(impl, dir, :list), do: Calls.list!(impl, dir)
  defp execute(impl, dir, :load_creds), do: Calls.load_credentials!(impl, dir)

  defp group(g, senders) do
    jid = "#{120_363_000_000_000_000 + g}@g.us"
    {jid, Enum.map(1..senders, &"#{15_552_000_000 + g * 100 + &1}")}
  end

  defp update_picks(count, sessions) do
    seed = :rand.seed_s(:exsss, {2024, 5, 17})

    {picks, _} =
      Enum.map_reduce(1..count, seed, fn _, state ->
        {n, state} = :rand.uniform_s(sessions, state)
        {n - 1, state}
      end)

    picks
  end
end
