defmodule BaileysEx.Auth.NIF.KeyStore.Server do
  @moduledoc """
  The process behind a key store: it owns the cache table and the lock
  processes and hands out the store's handle. Reads, writes and
  transactions never pass through it.
  """

  use GenServer

  alias BaileysEx.Auth.NIF.KeyStore.Cache
  alias BaileysEx.Auth.NIF.KeyStore.Locks
  alias BaileysEx.Auth.NIF.KeyStore.Persistence
  alias BaileysEx.Auth.NIF.KeyStore.Ref

  @doc "Starts the store process; `:name` registers it (any `GenServer` name)."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) when is_list(opts) do
    GenServer.start_link(__MODULE__, opts, name: Keyword.get(opts, :name))
  end

  @doc "The handle of the store process `pid`."
  @spec ref(pid()) :: Ref.t()
  def ref(pid) when is_pid(pid), do: GenServer.call(pid, :ref)

  @impl true
  def init(opts) do
    persistence =
      Persistence.new(
        Keyword.fetch!(opts, :persistence_module),
        Keyword.get(opts, :persistence_context)
      )

    {:ok,
     %Ref{
       pid: self(),
       cache: Cache.new(),
       locks: Locks.start_partitions(System.schedulers_online()),
       persistence: persistence
     }}
  end

  @impl true
  def handle_call(:ref, _from, ref), do: {:reply, ref, ref}
end
