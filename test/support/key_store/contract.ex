defmodule BaileysEx.Auth.NIF.Test.KeyStoreContract do
  @moduledoc """
  The key store contract as data: the stores compared (the twin of
  `BaileysEx.Auth.KeyStore` and `BaileysEx.Auth.NIF.KeyStore` over a
  backend), seeded random call sequences, a runner that records every
  answer, and the files a directory holds.

  Every store runs over `BaileysEx.Auth.NIF.Test.FaultyPersistence`, so
  that a value `{:fail_write, :eio}` makes a write fail the same way for
  all of them:

    * `:twin`: the twin over the drop-in (key by key), one attempt per
      commit (no retry sleep);
    * `:atomic`: ours over a module with `commit/2` and `load_many/3` (the
      drop-in, or its test stand-in until the drop-in exports them);
    * `:key_by_key`: ours over a module without them, as a user's own
      backend. Failures are left out of its sequences: it keeps what it
      wrote before a failure, where the twin writes its snapshot back.

  Where the original differs by design, the sequences make both agree:
  before a `clear` (also one inside a transaction) every id is read
  through the store, so the twin's clear, which deletes only the ids it
  has seen, deletes every key, as ours does.
  """

  alias BaileysEx.Auth.NIF.Baseline.KeyStore, as: Twin
  alias BaileysEx.Auth.NIF.KeyStore
  alias BaileysEx.Auth.NIF.Test.Backends
  alias BaileysEx.Auth.NIF.Test.DeterministicAuth
  alias BaileysEx.Auth.NIF.Test.FaultyPersistence
  alias BaileysEx.Auth.NIF.Test.Parity
  alias BaileysEx.Signal.Store

  defmodule Boom do
    @moduledoc "What a generated transaction raises to abort itself."
    defexception message: "transaction aborted by the test"
  end

  @ids %{
    session: ["15550000001.0", "15550000002.1", "98765000001_1.0"],
    "pre-key": ["1", "2", "3"],
    "sender-key": [
      "120363000000000001@g.us::15550000001::0",
      "120363000000000001@g.us::15550000002::0"
    ],
    "sender-key-memory": ["120363000000000001@g.us", "120363000000000002@g.us"],
    "app-state-sync-key": ["AAAAAA1x", "AAAA/+2y"],
    "app-state-sync-version": ["regular_low", "critical_block"],
    "lid-mapping": ["15550000001", "98765000001_reverse"],
    "device-list": ["15550000001", "15550000002"],
    tctoken: ["15550000001@s.whatsapp.net", "98765000001@lid"],
    "identity-key": ["15550000001.0", "98765000001_1.0"]
  }

  @typedoc "A store under test: its name, module and persistence module."
  @type config :: %{
          name: :twin | :atomic | :key_by_key,
          module: module(),
          persistence: module(),
          base: module()
        }

  @doc "The three stores compared over `backend`, the twin first."
  @spec configs(Backends.t()) :: [config()]
  def configs(%Backends{} = backend) do
    [
      %{name: :twin, module: Twin, persistence: FaultyPersistence, base: backend.module},
      %{
        name: :atomic,
        module: KeyStore,
        persistence: FaultyPersistence,
        base: backend.module
      },
      %{
        name: :key_by_key,
        module: KeyStore,
        persistence: FaultyPersistence.KeyByKey,
        base: backend.module
      }
    ]
  end

  @doc "True when failures are part of `config`'s sequences."
  @spec failures?(config()) :: boolean()
  def failures?(%{name: name}), do: name != :key_by_key

  @doc "The persistence context of `config` over `dir` (`log?` records the calls)."
  @spec context(config(), Path.t(), boolean()) :: FaultyPersistence.t()
  def context(config, dir, log? \\ false), do: FaultyPersistence.context(config.base, dir, log?)

  @doc "Starts `config`'s store over a directory or a context from `context/3`."
  @spec start(config(), Path.t() | FaultyPersistence.t()) :: Store.t()
  def start(config, dir) when is_binary(dir), do: start(config, context(config, dir))

  def start(config, %FaultyPersistence{} = context) do
    {:ok, store} =
      Store.start_link(
        module: config.module,
        persistence_module: config.persistence,
        persistence_context: context,
        max_commit_retries: 1,
        delay_between_tries_ms: 0
      )

    store
  end

  @doc "Stops a store started by `start/3`."
  @spec stop(Store.t()) :: :ok
  def stop(%Store{ref: %{pid: pid}}) do
    Process.unlink(pid)
    GenServer.stop(pid)
  end

  @doc "Every key type the sequences use and their ids."
  @spec ids() :: %{atom() => [String.t()]}
  def ids, do: @ids

  @doc """
  A value of `type` that both backends store, different for each `n`. Some
  tctokens lack `sender_timestamp`, which the JSON backend loads back as
  `nil`: a value read from the cache then differs from one read from disk.
  """
  @spec value(atom(), pos_integer()) :: term()
  def value(:session, n), do: Parity.session_record(n)
  def value(:"pre-key", n), do: DeterministicAuth.x25519_key_pair(n)
  def value(:"sender-key", n), do: Parity.sender_key_record(n)
  def value(:"sender-key-memory", n), do: %{"1555000#{n}:1@s.whatsapp.net" => true}
  def value(:"app-state-sync-key", n), do: %{key_data: DeterministicAuth.bytes(n, "key", 32)}

  def value(:"app-state-sync-version", n),
    do: %{version: n, hash: DeterministicAuth.bytes(n, "hash", 64), index_value_map: %{}}

  def value(:"lid-mapping", n), do: Integer.to_string(98_765_000_000 + n)
  def value(:"device-list", n), do: ["0", Integer.to_string(n)]

  def value(:tctoken, n) when rem(n, 3) == 0,
    do: %{token: DeterministicAuth.bytes(n, "tc", 24), timestamp: "#{1_710_000_000 + n}"}

  def value(:tctoken, n),
    do: %{token: DeterministicAuth.bytes(n, "tc", 24), timestamp: "#{n}", sender_timestamp: n}

  def value(:"identity-key", n), do: <<5>> <> DeterministicAuth.bytes(n, "identity", 32)

  # --- sequences ---------------------------------------------------------------

  @doc """
  A call sequence of `length` top-level calls from `seed`. Calls:
  `{:get, type, ids}`, `{:set, data}`, `{:clear}`, `{:restart}` and
  `{:transaction, key, calls, ending}` where `ending` is `:return`, `:raise`
  (the callback raises after its calls) or `:fail` (a write in it fails, so
  the commit does); inside a transaction also `{:outer_get, ...}`,
  `{:outer_set, ...}`, `{:in_transaction}` and `{:nested, key, calls}`. With
  `failures?`, some sets carry a value that fails the write.
  """
  @spec sequence(integer(), pos_integer(), boolean()) :: [tuple()]
  def sequence(seed, length, failures?) do
    :rand.seed(:exsss, {seed, 7, 11})
    for _ <- 1..length, do: top_call(failures?)
  end

  defp top_call(failures?) do
    weights = [get: 30, set: 28, transaction: 24, clear: 5, restart: 5, fail: 8]

    case pick(weights) do
      :get -> gen_get(:get)
      :set -> {:set, gen_data()}
      :transaction -> gen_transaction(failures?)
      :clear -> {:clear}
      :restart -> {:restart}
      :fail when failures? -> {:set, gen_failing_data()}
      :fail -> {:set, gen_data()}
    end
  end

  defp gen_transaction(failures?) do
    ending = pick([{:return, 70}, {:raise, 15}, {:fail, if(failures?, do: 15, else: 0)}])
    calls = for _ <- 1..:rand.uniform(5), do: tx_call(true)
    calls = if ending == :fail, do: calls ++ [{:set, gen_failing_data()}], else: calls
    {:transaction, tx_key(), calls, ending}
  end

  defp tx_call(nest?) do
    case pick([
           {:get, 30},
           {:outer_get, 10},
           {:set, 30},
           {:outer_set, 5},
           {:clear, 4},
           {:in_transaction, 5},
           {:nested, if(nest?, do: 10, else: 0)}
         ]) do
      :get -> gen_get(:get)
      :outer_get -> gen_get(:outer_get)
      :set -> {:set, gen_data()}
      :outer_set -> {:outer_set, gen_data()}
      :clear -> {:clear}
      :in_transaction -> {:in_transaction}
      :nested -> {:nested, tx_key(), for(_ <- 1..:rand.uniform(3), do: tx_call(false))}
    end
  end

  defp tx_key, do: Enum.random(["session:alice", "session:bob", "pre-key"])

  defp gen_get(tag) do
    type = random_type()
    ids = for _ <- 1..:rand.uniform(3), do: random_id(type)
    {tag, type, ids}
  end

  defp gen_data do
    for _ <- 1..:rand.uniform(2), into: %{} do
      type = random_type()
      entries = for _ <- 1..:rand.uniform(3), into: %{}, do: {random_id(type), gen_value(type)}
      {type, entries}
    end
  end

  defp gen_failing_data do
    type = random_type()
    data = gen_data()

    Map.update(data, type, %{random_id(type) => {:fail_write, :eio}}, fn entries ->
      Map.put(entries, random_id(type), {:fail_write, :eio})
    end)
  end

  defp gen_value(type),
    do: if(:rand.uniform(4) == 1, do: nil, else: value(type, :rand.uniform(1000)))

  defp random_type, do: Enum.random(Map.keys(@ids))

  # Mostly known ids, sometimes one that is never written.
  defp random_id(type), do: if(:rand.uniform(10) == 1, do: "never", else: Enum.random(@ids[type]))

  defp pick(weighted) do
    total = weighted |> Enum.map(&elem(&1, 1)) |> Enum.sum()
    roll = :rand.uniform(total)

    Enum.reduce_while(weighted, roll, fn {choice, weight}, left ->
      if left <= weight, do: {:halt, choice}, else: {:cont, left - weight}
    end)
  end

  # --- running -----------------------------------------------------------------

  @doc """
  Runs `calls` against `config`'s store over `dir` (started afresh) and
  returns one answer per call: the value returned, or the exception
  raised in a form both stores share.
  """
  @spec run(config(), Path.t(), [tuple()]) :: [term()]
  def run(config, dir, calls) do
    {answers, store} =
      Enum.map_reduce(calls, start(config, dir), fn call, store ->
        top(config, dir, store, call)
      end)

    stop(store)
    answers
  end

  defp top(config, dir, store, {:restart}) do
    stop(store)
    {:restarted, start(config, dir)}
  end

  defp top(_config, _dir, store, {:clear}) do
    primed = prime(store)
    {{primed, capture(fn -> Store.clear(store) end)}, store}
  end

  defp top(_config, _dir, store, {:transaction, key, calls, ending}) do
    primed = if clears?(calls), do: prime(store), else: nil

    outcome =
      capture(fn ->
        Store.transaction(store, key, fn tx ->
          answers = Enum.map(calls, &inner(store, tx, &1))
          Process.put({__MODULE__, :inner}, answers)
          if ending == :raise, do: raise(Boom)
          {:returned, answers}
        end)
      end)

    {{primed, Process.delete({__MODULE__, :inner}), outcome}, store}
  end

  defp top(_config, _dir, store, call), do: {plain(store, call), store}

  defp plain(store, {:get, type, ids}), do: capture(fn -> Store.get(store, type, ids) end)
  defp plain(store, {:set, data}), do: capture(fn -> Store.set(store, data) end)

  defp inner(outer, _tx, {:outer_get, type, ids}), do: plain(outer, {:get, type, ids})
  defp inner(outer, _tx, {:outer_set, data}), do: plain(outer, {:set, data})
  defp inner(_outer, tx, {:clear}), do: capture(fn -> Store.clear(tx) end)

  defp inner(outer, tx, {:in_transaction}),
    do: {Store.in_transaction?(tx), Store.in_transaction?(outer)}

  defp inner(outer, tx, {:nested, key, calls}) do
    capture(fn ->
      Store.transaction(tx, key, fn nested ->
        {nested == tx, Enum.map(calls, &inner(outer, nested, &1))}
      end)
    end)
  end

  defp inner(_outer, tx, call), do: plain(tx, call)

  defp clears?(calls) do
    Enum.any?(calls, fn
      {:clear} -> true
      {:nested, _key, nested} -> clears?(nested)
      _ -> false
    end)
  end

  # Reads every id, so that the twin has seen every key that exists.
  defp prime(store), do: for({type, ids} <- @ids, do: Store.get(store, type, ids ++ ["never"]))

  defp capture(fun) do
    {:ok, fun.()}
  rescue
    error -> {:raised, shared_form(error)}
  end

  @doc "An exception in a form both stores share (their `OperationError`s compare equal)."
  @spec shared_form(Exception.t()) :: term()
  def shared_form(%module{action: action, reason: reason})
      when module in [Twin.OperationError, KeyStore.OperationError],
      do: {:operation_error, action, reason}

  def shared_form(%module{} = error), do: {module, Exception.message(error)}

  # --- comparing -----------------------------------------------------------------

  @doc """
  The files of `dir` by name with their bytes (empty when `dir` does not
  exist), except the manifest, which is given decoded without its empty id
  lists. The twin's rollback of a failed write saves and then deletes keys,
  and leaves an empty list behind for a type it touched; a failed commit of
  ours touches nothing. Every other byte must be equal.
  """
  @spec files(Backends.t(), Path.t()) :: %{String.t() => binary() | map()}
  def files(%Backends{} = backend, dir) do
    case File.ls(dir) do
      {:ok, names} -> Map.new(names, &{&1, file(backend, dir, &1)})
      {:error, :enoent} -> %{}
    end
  end

  defp file(%Backends{manifest_file: name} = backend, dir, name) do
    manifest = Parity.read_manifest(backend.name, dir)
    index = for {type, [_ | _] = ids} <- manifest["key_index"], into: %{}, do: {type, ids}
    %{manifest | "key_index" => index}
  end

  defp file(_backend, dir, name), do: File.read!(Path.join(dir, name))

  @doc """
  The first call whose answers differ, as `{index, call, expected, actual}`,
  or nil when all agree.
  """
  @spec first_difference([tuple()], [term()], [term()]) :: nil | tuple()
  def first_difference(calls, expected, actual) do
    [calls, expected, actual]
    |> Enum.zip()
    |> Enum.with_index()
    |> Enum.find_value(fn {{call, e, a}, index} -> if e != a, do: {index, call, e, a} end)
  end
end
