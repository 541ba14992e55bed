defmodule ConsumerAppCheck do
  @moduledoc false
  # Copied into a throwaway Mix app by check.sh: saves and loads a key through
  # both drop-ins, as an app that depends on this library would.

  def run do
    dir = Path.join(System.tmp_dir!(), "consumer_check_#{System.unique_integer([:positive])}")

    try do
      for module <- [BaileysEx.Auth.NIF.NativeFilePersistence, BaileysEx.Auth.NIF.FilePersistence] do
        path = Path.join(dir, inspect(module))
        value = %{public: <<5, 1, 2, 3>>, private: <<9, 8, 7>>}
        :ok = module.save_keys(path, :"pre-key", 1, value)
        {:ok, ^value} = module.load_keys(path, :"pre-key", 1)
        {:ok, %{"pre-key": ["1"]}} = module.list_persisted_keys(path)
        IO.puts("#{inspect(module)}: saved and loaded a pre-key")
      end

      IO.puts("consumer check OK")
    after
      File.rm_rf!(dir)
    end
  end
end
