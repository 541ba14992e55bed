defmodule BaileysEx.Auth.NIF.Bench.Scenarios do
  @moduledoc """
  Single-call scenarios, the hot path and pairing, run for every
  implementation of one backend, interleaved, each in its own fresh
  directory.

    * `save_keys`, `load_keys`, `delete_keys` of a pre-key (small) and of a
      session record whose one chain holds 2,000 skipped message keys
      (large); `save_credentials`, `load_credentials`;
    * hot path: re-saving an existing (typical) session, as every message
      does, with its chain counter advanced each time;
    * pairing: the 812 pre-keys a new device uploads, saved one by one.
  """

  alias BaileysEx.Auth.NIF.Bench.{Calls, Config, Implementations, Row, Timing, Values, Workspace}

  @single_key_target 3.0

  @doc "Runs the single-call scenarios and the hot path; one row each."
  @spec single_ops(Implementations.plan(), Workspace.t(), Config.t(), (String.t() -> any())) ::
          [Row.t()]
  def single_ops(plan, ws, config, progress) do
    large = Values.session_record(1, config.large_message_keys)
    large_name = "session (#{config.large_message_keys} msg keys)"
    creds = Values.credentials(7)

    [
      {"save_keys pre-key", :save_keys, config.single, save_new(:"pre-key", &Values.pre_key/1)},
      {"load_keys pre-key", :load_keys, config.single_load,
       load_existing(:"pre-key", Values.pre_key(1))},
      {"delete_keys pre-key", :delete_keys, config.single,
       delete_existing(:"pre-key", Values.pre_key(1))},
      {"save_keys #{large_name}", :save_keys, config.single,
       save_new(:session, fn _ -> large end)},
      {"load_keys #{large_name}", :load_keys, config.single_load, load_existing(:session, large)},
      {"delete_keys #{large_name}", :delete_keys, config.single,
       delete_existing(:session, large)},
      {"save_credentials", :save_credentials, config.single, save_credentials(creds)},
      {"load_credentials", :load_credentials, config.single_load, load_credentials(creds)},
      {"hot path: re-save a session (#{config.typical_message_keys} msg keys)", :save_keys,
       [count: config.hot_path_saves],
       resave(Values.session_record(2, config.typical_message_keys))}
    ]
    |> Enum.map(fn {name, op, sampling, scenario} ->
      progress.(name)
      samples = compare(plan, ws, name, sampling, scenario)
      target = if op in [:save_keys, :load_keys, :delete_keys], do: @single_key_target
      Row.per_op(:single, name, samples, op: op, target: target)
    end)
  end

  @doc "Pairing: `config.pairing_pre_keys` pre-keys saved one by one into an empty directory."
  @spec pairing(Implementations.plan(), Workspace.t(), Config.t()) :: Row.t()
  def pairing(plan, ws, config) do
    count = config.pairing_pre_keys
    name = "pairing: #{count} pre-keys saved one by one"

    samples =
      compare(plan, ws, "pairing", [count: count, warmup: 0], fn impl, dir ->
        %{
          setup: fn i -> Values.pre_key(i + 1) end,
          run: fn i, value -> Calls.save!(impl, dir, :"pre-key", i + 1, value) end
        }
      end)

    Row.total(:bulk, name, samples)
  end

  @doc """
  Runs one scenario: a fresh directory per implementation, `build.(impl, dir)`
  gives its contender (`:prepare`, `:setup`, `:run`), then an interleaved
  timed run with `sampling` options (see `Timing.interleave/2`).
  """
  @spec compare(Implementations.plan(), Workspace.t(), String.t(), keyword(), function()) ::
          %{atom() => [float()]}
  def compare(plan, ws, name, sampling, build) do
    slug = name |> String.replace(~r/[^a-z0-9]+/i, "_") |> String.trim("_")

    contenders =
      Enum.map(plan.impls, fn impl ->
        dir = Workspace.fresh_dir(ws, slug, impl.id)
        contender = build.(impl, dir)
        if prepare = Map.get(contender, :prepare), do: prepare.()
        contender |> Map.put(:id, impl.id) |> Map.put(:dir, dir)
      end)

    samples = Timing.interleave(contenders, sampling)
    Workspace.discard(Enum.map(contenders, & &1.dir))
    samples
  end

  defp save_new(type, value_for) do
    fn impl, dir ->
      %{
        setup: fn i -> value_for.(i) end,
        run: fn i, value -> Calls.save!(impl, dir, type, key_id(type, i), value) end
      }
    end
  end

  defp load_existing(type, value) do
    fn impl, dir ->
      %{
        prepare: fn -> Calls.save!(impl, dir, type, key_id(type, 0), value) end,
        run: fn _i, _ -> Calls.load!(impl, dir, type, key_id(type, 0)) end
      }
    end
  end

  defp delete_existing(type, value) do
    fn impl, dir ->
      %{
        setup: fn i -> Calls.save!(impl, dir, type, key_id(type, i), value) end,
        run: fn i, _ -> Calls.delete!(impl, dir, type, key_id(type, i)) end
      }
    end
  end

  defp save_credentials(creds) do
    fn impl, dir -> %{run: fn _i, _ -> Calls.save_credentials!(impl, dir, creds) end} end
  end

  defp load_credentials(creds) do
    fn impl, dir ->
      %{
        prepare: fn -> Calls.save_credentials!(impl, dir, creds) end,
        run: fn _i, _ -> Calls.load_credentials!(impl, dir) end
      }
    end
  end

  defp resave(session) do
    id = key_id(:session, 0)

    fn impl, dir ->
      %{
        prepare: fn -> Calls.save!(impl, dir, :session, id, session) end,
        setup: fn i -> Values.advance_session(session, i + 1) end,
        run: fn _i, value -> Calls.save!(impl, dir, :session, id, value) end
      }
    end
  end

  @doc "The id of the `i`-th key of `type` in the scenarios (pre-keys are integers)."
  @spec key_id(atom(), non_neg_integer()) :: integer() | String.t()
  def key_id(:"pre-key", i), do: i + 1
  def key_id(:session, i), do: "#{15_550_000_000 + i}.0"
end
