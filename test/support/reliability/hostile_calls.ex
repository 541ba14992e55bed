defmodule BaileysEx.Auth.NIF.Test.Reliability.HostileCalls do
  @moduledoc """
  A table of hostile calls against one backend, each with what counts as a
  correct answer:

    * `:error`: must be `{:error, reason}`;
    * `:answer`: any `:ok`, `{:ok, _}` or `{:error, _}` (never a raise, an
      exit or another shape);
    * `{:roundtrip, load}`: the call is a save; it may fail with
      `{:error, _}`, but if it returns `:ok` then `load.()` must give back
      the saved value exactly.

  Every call runs in its own process with a time limit, so a hang or a
  raise is reported with the call's label instead of stopping the run.
  """

  alias BaileysEx.Auth.NIF.Baseline.KeyIndex
  alias BaileysEx.Auth.NIF.Test.Reliability.Backend
  alias BaileysEx.Auth.State

  @type call :: %{label: String.t(), run: function(), expect: term()}

  @long_type String.to_atom(String.duplicate("t", 255))

  @doc "The table for `backend`, writing only below `dir`."
  @spec table(Backend.t(), Path.t()) :: [call()]
  def table(backend, dir) do
    context_calls(backend, dir) ++
      type_calls(backend, dir) ++
      id_calls(backend, dir) ++ value_calls(backend, dir) ++ creds_calls(backend, dir)
  end

  @doc "Contexts that are not a usable directory, for every function."
  @spec bad_contexts(Path.t()) :: [term()]
  def bad_contexts(dir) do
    [
      42,
      ~c"charlist_dir",
      %{path: dir},
      {:dir, dir},
      :auth_dir,
      1.5,
      <<1::3>>,
      self(),
      make_ref(),
      [dir],
      dir <> "\0x",
      "",
      String.duplicate("d", 5000),
      "/dev/null/x",
      "/proc/self/no_such_dir/x"
    ]
  end

  defp context_calls(backend, dir) do
    m = backend.module
    value = %{"v" => 1}

    for ctx <- bad_contexts(dir),
        {name, run} <- [
          {"load_credentials", fn -> m.load_credentials(ctx) end},
          {"save_credentials", fn -> m.save_credentials(ctx, Backend.creds(1)) end},
          {"load_keys", fn -> m.load_keys(ctx, :"device-list", "x") end},
          {"save_keys", fn -> m.save_keys(ctx, :"device-list", "x", value) end},
          {"delete_keys", fn -> m.delete_keys(ctx, :"device-list", "x") end},
          {"list_persisted_keys", fn -> m.list_persisted_keys(ctx) end},
          {"commit", fn -> m.commit(ctx, %{"device-list": %{"x" => value}}) end},
          {"load_many", fn -> m.load_many(ctx, :"device-list", ["x"]) end},
          {Atom.to_string(backend.helper), fn -> apply(m, backend.helper, [ctx]) end}
        ] do
      %{label: "#{name} with context #{short(ctx)}", run: run, expect: :error}
    end
  end

  defp type_calls(backend, dir) do
    m = backend.module

    bad =
      for type <- ["session", 1, {:session}, [:session], self(), 2.5, :"a\0b", @long_type],
          {name, run} <- [
            {"load_keys", fn -> m.load_keys(dir, type, "x") end},
            {"save_keys", fn -> m.save_keys(dir, type, "x", %{"v" => 1}) end},
            {"delete_keys", fn -> m.delete_keys(dir, type, "x") end},
            {"commit", fn -> m.commit(dir, %{type => %{"x" => %{"v" => 1}}}) end},
            {"commit delete", fn -> m.commit(dir, %{type => %{"x" => nil}}) end},
            {"load_many", fn -> m.load_many(dir, type, ["x"]) end}
          ] do
        %{label: "#{name} with type #{short(type)}", run: run, expect: :error}
      end

    # Type atoms that name a path: sanitised into a file name in the directory.
    odd =
      for type <- [:"../../escape_type", :"x/y", :"", :.., :-] do
        roundtrip(backend, dir, "type #{inspect(type)}", type, "x", %{"v" => 1})
      end

    bad ++ odd
  end

  defp id_calls(backend, dir) do
    m = backend.module

    # Ids that must be refused: no file name can hold them, or they have no
    # string form.
    refused =
      for id <- [
            "a\0b",
            String.duplicate("y", 300),
            String.duplicate("é", 200),
            [1_000_000_000],
            self(),
            make_ref(),
            %{a: 1},
            {1, 2},
            fn -> :ok end,
            <<1::3>>
          ],
          {name, run} <- [
            {"load_keys", fn -> m.load_keys(dir, :"device-list", id) end},
            {"save_keys", fn -> m.save_keys(dir, :"device-list", id, %{"v" => 1}) end},
            {"delete_keys", fn -> m.delete_keys(dir, :"device-list", id) end},
            {"commit", fn -> m.commit(dir, %{"device-list": %{id => %{"v" => 1}}}) end},
            {"commit delete", fn -> m.commit(dir, %{"device-list": %{id => nil}}) end},
            {"load_many", fn -> m.load_many(dir, :"device-list", ["ok", id]) end}
          ] do
        %{label: "#{name} with id #{short(id)}", run: run, expect: :error}
      end

    # Path-like ids are sanitised ("/" becomes "__"): they stay in the directory.
    pathy =
      for id <- [
            "../x",
            "../../escape_id",
            "a/../../b",
            "..",
            ".",
            "",
            "/",
            "//etc/passwd",
            "-",
            "x:y:z",
            <<0xFF, 0xFE>>,
            "José 📱",
            String.duplicate("z", 200),
            123,
            -7,
            1.5,
            :atom_id,
            ~c"chars",
            [1, 2],
            nil,
            true
          ] do
        roundtrip(backend, dir, "id #{short(id)}", :"device-list", id, %{"v" => 2})
      end

    refused ++ pathy
  end

  defp value_calls(backend, dir) do
    deep_list = Enum.reduce(1..100_000, "leaf", fn _, acc -> [acc] end)
    deep_map = Enum.reduce(1..100_000, 1, fn _, acc -> %{"a" => acc} end)
    wide = Map.new(1..100_000, &{"k#{&1}", &1})
    huge = :binary.copy(<<0, 1, 2, 3, 250, 251, 252, 253>>, 12_500_000)

    # JSON keeps these exactly; the others it refuses or changes by design
    # (integer-keyed objects read back as binaries, atoms as strings...).
    both = [
      {"a 100 MB binary", huge},
      {"a list nested 100k deep", deep_list},
      {"a map nested 100k deep", deep_map},
      {"a map of 100k entries", wide},
      {"invalid UTF-8", <<0xC3, 0x28, 0xFF>>}
    ]

    term_only = [
      {"a 2^1000 integer", Integer.pow(2, 1000)},
      {"an empty map", %{}},
      {"a tuple nested 100k deep", Enum.reduce(1..100_000, :leaf, fn _, acc -> {acc} end)},
      {"a pid", self()},
      {"a reference", make_ref()},
      {"an improper list", [1 | 2]},
      {"a bitstring", <<1::3>>},
      {"an atom", :some_atom},
      {"integer map keys", %{1 => 2}},
      {"a struct", %URI{host: "x"}}
    ]

    safe =
      for {label, value} <- both,
          call <- [
            roundtrip(backend, dir, "value #{label}", :"device-list", "v", value),
            commit_roundtrip(backend, dir, "value #{label}", :"device-list", "c", value)
          ],
          do: call

    other =
      for {label, value} <- term_only do
        if backend.name == :etf,
          do: roundtrip(backend, dir, "value #{label}", :"device-list", "v", value),
          else: %{
            label: "save then load of #{label}",
            run: fn ->
              {backend.module.save_keys(dir, :"device-list", "v", value),
               backend.module.load_keys(dir, :"device-list", "v")}
            end,
            expect: :answer_pair
          }
      end

    # Any value under every persisted type: the JSON backend decodes per type.
    typed =
      for type <- KeyIndex.persisted_types(),
          {label, value} <- [
            {"a string map", %{"x" => 1}},
            {"a binary", <<1, 2, 3>>},
            {"nil", nil},
            {"a list", [1, "a"]},
            {"an integer", 7}
          ] do
        %{
          label: "save then load of #{label} as #{type}",
          run: fn ->
            {backend.module.save_keys(dir, type, "typed", value),
             backend.module.load_keys(dir, type, "typed")}
          end,
          expect: :answer_pair
        }
      end

    safe ++ other ++ typed
  end

  defp creds_calls(backend, dir) do
    m = backend.module
    base = Backend.creds(1)

    not_state =
      for creds <- [%{}, nil, "creds", {:state}, [registered: true], %URI{}] do
        %{
          label: "save_credentials of #{short(creds)}",
          run: fn -> m.save_credentials(dir, creds) end,
          expect: :error
        }
      end

    hostile_fields = [
      {"additional_data nested 100k deep",
       %{base | additional_data: Enum.reduce(1..100_000, 1, fn _, acc -> [acc] end)}},
      {"additional_data with atom keys", %{base | additional_data: %{a: 1}}},
      {"a pid in me", %{base | me: self()}},
      {"a garbage noise_key", %{base | noise_key: "garbage"}},
      {"a 20 MB routing_info", %{base | routing_info: :binary.copy(<<7>>, 20_000_000)}}
    ]

    fields =
      for {label, creds} <- hostile_fields do
        if backend.name == :etf do
          %{
            label: "save_credentials with #{label}",
            run: fn -> {m.save_credentials(dir, creds), m.load_credentials(dir)} end,
            expect: {:creds_roundtrip, creds}
          }
        else
          %{
            label: "save_credentials with #{label}",
            run: fn -> {m.save_credentials(dir, creds), m.load_credentials(dir)} end,
            expect: :answer_pair
          }
        end
      end

    not_state ++ fields
  end

  defp roundtrip(backend, dir, label, type, id, value) do
    m = backend.module

    %{
      label: "save then load of #{label}",
      run: fn -> {m.save_keys(dir, type, id, value), m.load_keys(dir, type, id)} end,
      expect: {:roundtrip, value}
    }
  end

  # The same through a commit, read back by `load_many`.
  defp commit_roundtrip(backend, dir, label, type, id, value) do
    m = backend.module

    %{
      label: "commit then load_many of #{label}",
      run: fn ->
        {m.commit(dir, %{type => %{id => value}}),
         with({:ok, %{^id => loaded}} <- m.load_many(dir, type, [id]), do: {:ok, loaded})}
      end,
      expect: {:roundtrip, value}
    }
  end

  @doc """
  Runs every call, each in its own process with `timeout` ms. Returns the
  failures as `{label, what_happened}`.
  """
  @spec run([call()], timeout()) :: [{String.t(), term()}]
  def run(calls, timeout) do
    for call <- calls, failure = run_one(call, timeout), do: {call.label, failure}
  end

  defp run_one(call, timeout) do
    task =
      Task.async(fn ->
        try do
          {:returned, call.run.()}
        rescue
          error -> {:raised, error}
        catch
          kind, reason -> {:caught, kind, reason}
        end
      end)

    case Task.yield(task, timeout) || Task.shutdown(task, :brutal_kill) do
      {:ok, {:returned, result}} -> judge(call.expect, result)
      {:ok, other} -> {:did_not_return, other}
      {:exit, reason} -> {:exited, reason}
      nil -> {:hung, "no answer within #{timeout} ms"}
    end
  end

  defp judge(:error, {:error, _}), do: nil
  defp judge(:error, other), do: {:expected_error, short(other)}

  defp judge(:answer, result),
    do: if(answer?(result), do: nil, else: {:bad_answer, short(result)})

  defp judge(:answer_pair, {save, load}) do
    if answer?(save) and answer?(load), do: nil, else: {:bad_answer, short({save, load})}
  end

  defp judge({:roundtrip, _value}, {{:error, _}, load}) do
    if answer?(load), do: nil, else: {:bad_load_answer, short(load)}
  end

  defp judge({:roundtrip, value}, {:ok, {:ok, value}}), do: nil
  defp judge({:roundtrip, _value}, other), do: {:not_a_roundtrip, short(other)}

  defp judge({:creds_roundtrip, _creds}, {{:error, _}, load}) do
    if answer?(load), do: nil, else: {:bad_load_answer, short(load)}
  end

  defp judge({:creds_roundtrip, creds}, {:ok, {:ok, loaded}}) do
    if loaded == creds and is_struct(loaded, State),
      do: nil,
      else: {:creds_changed, short(loaded)}
  end

  defp judge({:creds_roundtrip, _}, other), do: {:not_a_roundtrip, short(other)}

  defp answer?(:ok), do: true
  defp answer?({:ok, _}), do: true
  defp answer?({:error, _}), do: true
  defp answer?(_), do: false

  defp short(term), do: inspect(term, limit: 6, printable_limit: 60)
end
