defmodule BaileysEx.Auth.NIF.Test.Backends do
  @moduledoc """
  The two file backends, described once for the tests, the reliability
  helpers and the benchmark: the NIF module of this project, its pure-Elixir
  twin, the real BaileysEx module it replaces (loaded only in an app that has
  `baileys_ex`), and the backend's names on disk.

  `name` is also the fixture directory of the backend (`Fixtures.dir/1`).
  """

  @enforce_keys [
    :name,
    :title,
    :module,
    :twin,
    :real,
    :helper,
    :ext,
    :creds_file,
    :manifest_file,
    :backend_id,
    :default_dir
  ]
  defstruct @enforce_keys

  @typedoc """
  One backend: `module` is the NIF module, `helper` the name of the
  `use_*_auth_state/1` function every implementation exports, `backend_id`
  the manifest's "backend" value and `default_dir` the directory under the
  working directory that the context-free calls use when none is configured.
  """
  @type t :: %__MODULE__{
          name: :etf | :json,
          title: String.t(),
          module: module(),
          twin: module(),
          real: module(),
          helper: atom(),
          ext: String.t(),
          creds_file: String.t(),
          manifest_file: String.t(),
          backend_id: String.t(),
          default_dir: String.t()
        }

  @known [
    %{
      name: :etf,
      title: "ETF",
      module: BaileysEx.Auth.NIF.NativeFilePersistence,
      twin: BaileysEx.Auth.NIF.Baseline.NativeFilePersistence,
      real: BaileysEx.Auth.NativeFilePersistence,
      helper: :use_native_file_auth_state,
      ext: ".etf",
      creds_file: "creds.etf",
      manifest_file: ".baileys_ex_native_file_persistence.etf",
      backend_id: "native_file_persistence",
      default_dir: "baileys_native_auth_info"
    },
    %{
      name: :json,
      title: "JSON",
      module: BaileysEx.Auth.NIF.FilePersistence,
      twin: BaileysEx.Auth.NIF.Baseline.FilePersistence,
      real: BaileysEx.Auth.FilePersistence,
      helper: :use_multi_file_auth_state,
      ext: ".json",
      creds_file: "creds.json",
      manifest_file: ".baileys_ex_file_persistence.json",
      backend_id: "file_persistence",
      default_dir: "baileys_auth_info"
    }
  ]

  @doc "Both backends, ETF first, whether or not their modules load in this VM."
  @spec all() :: [t()]
  def all, do: Enum.map(@known, &struct!(__MODULE__, &1))

  @doc "The backend named `name` (`:etf` or `:json`, or its string form)."
  @spec fetch(atom() | String.t()) :: {:ok, t()} | :error
  def fetch(name) do
    case Enum.find(all(), &(Atom.to_string(&1.name) == to_string(name))) do
      nil -> :error
      backend -> {:ok, backend}
    end
  end

  @doc "The backend named `name`; raises for an unknown name."
  @spec fetch!(atom() | String.t()) :: t()
  def fetch!(name) do
    case fetch(name) do
      {:ok, backend} -> backend
      :error -> raise ArgumentError, "no backend named #{inspect(name)}"
    end
  end

  @doc "The other backend: its manifest is foreign to `backend`."
  @spec other(t()) :: t()
  def other(%__MODULE__{name: :etf}), do: fetch!(:json)
  def other(%__MODULE__{name: :json}), do: fetch!(:etf)

  @doc "The implementations of `backend` loaded in this VM: NIF, twin, real."
  @spec implementations(t()) :: [module()]
  def implementations(backend) do
    Enum.filter([backend.module, backend.twin, backend.real], &Code.ensure_loaded?/1)
  end
end
