defmodule BaileysEx.Auth.NIF.Test.Reliability.MutatedFiles do
  @moduledoc """
  Corrupt files placed where a backend reads: every truncation and
  single-byte change of every valid fixture file, plus random bytes, each
  written as a key file, as the credentials and as the manifest, then read
  through the public API.

  Every call must answer `{:ok, _}` or `{:error, _}` (`load_credentials`:
  `{:ok, %State{}}`). A raise, an exit, another shape or a hang is a
  failure, reported with the input that caused it: the fixture, the
  mutation and the placement.
  """

  alias BaileysEx.Auth.NIF.Test.Fixtures
  alias BaileysEx.Auth.NIF.Test.Reliability.Backend
  alias BaileysEx.Auth.State

  @types ~w(session pre-key sender-key sender-key-memory app-state-sync-key
            app-state-sync-version lid-mapping device-list tctoken identity-key)

  @typedoc "Where a mutated file goes, and which fixture it came from."
  @type input :: {description :: tuple(), bytes :: binary(), source :: String.t()}

  @doc "Every file of the backend's fixture directory, dot files included."
  @spec fixtures(Backend.t()) :: [{String.t(), binary()}]
  def fixtures(backend) do
    dir = Fixtures.dir(backend.name)
    for name <- Enum.sort(File.ls!(dir)), do: {name, File.read!(Path.join(dir, name))}
  end

  @doc """
  The inputs for one backend. `:quick`: every truncation and every
  byte XOR 0xFF. `:stress` adds XOR 0x01, 0x80 and zeroing at every offset,
  and `random` random files.
  """
  @spec inputs(Backend.t(), :quick | :stress, non_neg_integer(), integer()) ::
          Enumerable.t()
  def inputs(backend, level, random, seed) do
    changes =
      case level do
        :quick -> [{:xor, 0xFF}]
        :stress -> [{:xor, 0xFF}, {:xor, 0x01}, {:xor, 0x80}, {:set, 0x00}]
      end

    mutated =
      Stream.flat_map(fixtures(backend), fn {name, bytes} ->
        size = byte_size(bytes)

        cuts =
          Stream.map(0..(size - 1)//1, &{{name, :truncate, &1}, binary_part(bytes, 0, &1), name})

        flips =
          Stream.flat_map(0..(size - 1)//1, fn offset ->
            <<pre::binary-size(offset), byte, post::binary>> = bytes

            Enum.map(changes, fn
              {:xor, mask} ->
                {{name, {:xor, mask}, offset},
                 <<pre::binary, Bitwise.bxor(byte, mask), post::binary>>, name}

              {:set, value} ->
                {{name, {:set, value}, offset}, <<pre::binary, value, post::binary>>, name}
            end)
          end)

        Stream.concat(cuts, flips)
      end)

    Stream.concat(mutated, random_inputs(random, seed))
  end

  @doc """
  `count` random files: raw random bytes, and random bytes behind an ETF
  version byte or a JSON opening, reproducible from `seed`.
  """
  @spec random_inputs(non_neg_integer(), integer()) :: Enumerable.t()
  def random_inputs(0, _seed), do: []

  def random_inputs(count, seed) do
    Stream.transform(1..count, :rand.seed_s(:exsss, {seed, 11, 13}), fn n, rng ->
      {size, rng} = :rand.uniform_s(600, rng)
      {kind, rng} = :rand.uniform_s(4, rng)
      {body, rng} = :rand.bytes_s(size - 1, rng)
      {tag, rng} = :rand.uniform_s(256, rng)

      bytes =
        case kind do
          1 -> body
          2 -> <<131, tag - 1>> <> body
          3 -> <<131, 116, 0, 0, 0, rem(tag, 4)>> <> body
          4 -> "{\"" <> body
        end

      {[{{:random, seed, n}, bytes, "random"}], rng}
    end)
  end

  @doc """
  Runs `inputs` against `backend` under `root`. With `placements: :all`
  each input is placed as a key file, the credentials and the manifest;
  with `:rotate` one placement per input, in turn (every offset of every
  fixture is still read each way across neighbouring offsets). Records the
  input in flight in `progress` (an ETS table) so a hang can be reported.
  Returns `%{inputs: n, calls: n, failures: [{description, what}]}`.
  """
  @spec run(Backend.t(), Path.t(), Enumerable.t(), :ets.tid(), :all | :rotate) :: map()
  def run(backend, root, inputs, progress, placements \\ :all) do
    dirs =
      for placement <- [:key, :creds, :manifest],
          into: %{},
          do: {placement, Path.join(root, "#{placement}")}

    Enum.each(dirs, fn {_, dir} -> File.mkdir_p!(dir) end)
    Process.put({__MODULE__, :files}, %{})

    try do
      inputs
      |> Stream.with_index()
      |> Enum.reduce(%{inputs: 0, calls: 0, failures: []}, fn {{desc, bytes, source}, n}, acc ->
        chosen =
          case placements do
            :all -> [:key, :creds, :manifest]
            :rotate -> [Enum.at([:key, :creds, :manifest], rem(n, 3))]
          end

        Enum.reduce(chosen, acc, fn placement, acc ->
          :ets.insert(progress, {:current, {backend.name, desc, placement}})
          results = place_and_read(backend, dirs[placement], placement, bytes, source)

          failures =
            for {call, result} <- results, not acceptable?(call, result) do
              {{backend.name, desc, placement, call}, result}
            end

          %{
            acc
            | inputs: acc.inputs + 1,
              calls: acc.calls + length(results),
              failures: failures ++ acc.failures
          }
        end)
      end)
    after
      for {_path, fd} <- Process.delete({__MODULE__, :files}), do: :file.close(fd)
    end
  end

  defp place_and_read(backend, dir, :key, bytes, source) do
    {file, type, id} = key_slot(backend, source)
    put_file(Path.join(dir, file), bytes)
    [{:load_keys, guarded(fn -> backend.module.load_keys(dir, type, id) end)}]
  end

  defp place_and_read(backend, dir, :creds, bytes, _source) do
    put_file(Path.join(dir, backend.creds_file), bytes)
    [{:load_credentials, guarded(fn -> backend.module.load_credentials(dir) end)}]
  end

  defp place_and_read(backend, dir, :manifest, bytes, _source) do
    put_file(Path.join(dir, backend.manifest_file), bytes)

    [
      {:load_keys, guarded(fn -> backend.module.load_keys(dir, :"pre-key", "1") end)},
      {:list_persisted_keys, guarded(fn -> backend.module.list_persisted_keys(dir) end)}
    ]
  end

  # Rewrites a file in place through a descriptor kept open: opening and
  # truncating a file per input costs more than the call under test.
  defp put_file(path, bytes) do
    files = Process.get({__MODULE__, :files})

    fd =
      case files do
        %{^path => fd} ->
          fd

        _ ->
          {:ok, fd} = :file.open(path, [:raw, :binary, :read, :write])
          Process.put({__MODULE__, :files}, Map.put(files, path, fd))
          fd
      end

    :ok = :file.pwrite(fd, 0, bytes)
    {:ok, _} = :file.position(fd, byte_size(bytes))
    :ok = :file.truncate(fd)
  end

  # A key fixture goes back under its own name (so the JSON backend decodes
  # it with its type's codec); creds, manifest and random bytes as a device list.
  defp key_slot(backend, source) do
    base = String.replace_suffix(source, backend.ext, "")

    case Enum.filter(@types, &String.starts_with?(base, &1 <> "-")) do
      [] ->
        {"device-list-x" <> backend.ext, :"device-list", "x"}

      types ->
        type = Enum.max_by(types, &String.length/1)
        id = String.replace_prefix(base, type <> "-", "")
        {source, String.to_existing_atom(type), id}
    end
  end

  defp guarded(fun) do
    {:returned, fun.()}
  rescue
    error -> {:raised, error}
  catch
    kind, reason -> {:caught, kind, reason}
  end

  defp acceptable?(:load_credentials, {:returned, {:ok, %State{}}}), do: true
  defp acceptable?(:load_credentials, {:returned, {:error, _}}), do: true
  defp acceptable?(:load_keys, {:returned, {:ok, _}}), do: true
  defp acceptable?(:load_keys, {:returned, {:error, _}}), do: true
  defp acceptable?(:list_persisted_keys, {:returned, {:ok, index}}) when is_map(index), do: true
  defp acceptable?(:list_persisted_keys, {:returned, {:error, _}}), do: true
  defp acceptable?(_call, _result), do: false
end
