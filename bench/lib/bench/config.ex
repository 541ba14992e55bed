defmodule BaileysEx.Auth.NIF.Bench.Config do
  @moduledoc """
  Sizes and sample counts of the full run and of `--quick`.

  Sample counts are adaptive where the cost of a call is unknown: at least
  `min` rounds, then more until `max` rounds or until `budget_ms` of wall time
  is spent. Scenarios defined by a count (812 pre-keys, 1,000 re-saves, the
  replay) use exact counts.
  """

  @typedoc "All parameters of one run."
  @type t :: %{
          mode: :quick | :full,
          single: keyword(),
          single_load: keyword(),
          large_message_keys: pos_integer(),
          typical_message_keys: non_neg_integer(),
          hot_path_saves: pos_integer(),
          scaling_sizes: [non_neg_integer()],
          scaling_save: keyword(),
          scaling_load: keyword(),
          scaling_list: keyword(),
          fill_concurrency: pos_integer(),
          pairing_pre_keys: pos_integer(),
          concurrency: %{processes: pos_integer(), keys: pos_integer(), repeats: pos_integer()},
          replay: %{
            pre_keys: pos_integer(),
            sessions: pos_integer(),
            groups: pos_integer(),
            senders_per_group: pos_integer(),
            session_updates: pos_integer()
          },
          commits: %{
            pre_keys: pos_integer(),
            sessions: pos_integer(),
            sets: keyword(),
            receive: keyword(),
            loads: keyword()
          }
        }

  @doc "Parameters of the full run (`:full`) or of `--quick` (`:quick`)."
  @spec get(:quick | :full) :: t()
  def get(:full) do
    %{
      mode: :full,
      single: [min: 50, max: 150, budget_ms: 3_000],
      single_load: [min: 200, max: 2_000, budget_ms: 2_000],
      large_message_keys: 2_000,
      typical_message_keys: 5,
      hot_path_saves: 1_000,
      scaling_sizes: [0, 1_000, 5_000, 10_000],
      scaling_save: [min: 20, max: 100, budget_ms: 3_000],
      scaling_load: [min: 50, max: 1_000, budget_ms: 2_000],
      scaling_list: [min: 2, max: 50, budget_ms: 3_000],
      fill_concurrency: 16,
      pairing_pre_keys: 812,
      concurrency: %{processes: 8, keys: 200, repeats: 2},
      replay: %{
        pre_keys: 812,
        sessions: 2_000,
        groups: 100,
        senders_per_group: 5,
        session_updates: 10_000
      },
      commits: %{
        pre_keys: 812,
        sessions: 256,
        sets: [count: 7, warmup: 1, block: 1],
        receive: [count: 300],
        loads: [count: 30, block: 2]
      }
    }
  end

  def get(:quick) do
    %{
      mode: :quick,
      single: [min: 10, max: 30, budget_ms: 400],
      single_load: [min: 30, max: 300, budget_ms: 200],
      large_message_keys: 2_000,
      typical_message_keys: 5,
      hot_path_saves: 50,
      scaling_sizes: [0, 200, 500, 1_000],
      scaling_save: [min: 5, max: 20, budget_ms: 300],
      scaling_load: [min: 10, max: 200, budget_ms: 200],
      scaling_list: [min: 3, max: 10, budget_ms: 300],
      fill_concurrency: 16,
      pairing_pre_keys: 50,
      concurrency: %{processes: 8, keys: 15, repeats: 1},
      replay: %{
        pre_keys: 30,
        sessions: 60,
        groups: 5,
        senders_per_group: 3,
        session_updates: 150
      },
      commits: %{
        pre_keys: 100,
        sessions: 32,
        sets: [count: 3, warmup: 1, block: 1],
        receive: [count: 20],
        loads: [count: 5, block: 1]
      }
    }
  end
end
