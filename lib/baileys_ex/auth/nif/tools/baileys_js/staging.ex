defmodule BaileysEx.Auth.NIF.Tools.BaileysJS.Staging do
  @moduledoc false
  # The bridge's target handling, the same promises as `Tools.migrate/3`:
  # a non-empty target is refused unless forced; the new folder is built in
  # a hidden sibling and renamed into place only once it is complete and
  # checked; on any failure (a crash included) the staging folder goes and
  # the previous target, if any, is left as it was.

  @doc """
  Builds the target with `build.(staging_dir)` (`{:ok, result}` or
  `{:error, reason}`) and publishes it.
  """
  @spec run(Path.t(), boolean(), String.t(), (Path.t() -> {:ok, term()} | {:error, term()})) ::
          {:ok, term()} | {:error, term()}
  def run(target, force?, what, build) when is_function(build, 1) do
    with :ok <- target_free(target, force?) do
      staging = sibling(target, what)
      backup = sibling(target, "replaced")

      try do
        with :ok <- fs(:mkdir_parent, target, File.mkdir_p(Path.dirname(staging))),
             :ok <- fs(:mkdir_staging, staging, File.mkdir(staging)),
             {:ok, result} <- build.(staging),
             :ok <- publish(staging, target, backup),
             do: {:ok, result}
      after
        clean_up(staging, target, backup)
      end
    end
  end

  @doc "Writes a file of the staging folder, naming it in an error."
  @spec write(Path.t(), iodata()) :: :ok | {:error, term()}
  def write(path, data), do: fs(:write, path, File.write(path, data))

  defp target_free(target, force?) do
    case File.stat(target) do
      {:error, :enoent} ->
        :ok

      {:ok, %{type: :directory}} ->
        case File.ls(target) do
          {:ok, []} -> :ok
          {:ok, _names} when force? -> :ok
          {:ok, _names} -> {:error, {:target_not_empty, target}}
          {:error, reason} -> {:error, {:cannot_list_target, target, reason}}
        end

      {:ok, %{type: type}} ->
        {:error, {:target_not_a_directory, target, type}}

      {:error, reason} ->
        {:error, {:cannot_stat_target, target, reason}}
    end
  end

  defp sibling(target, what) do
    Path.join(
      Path.dirname(target),
      ".#{Path.basename(target)}.#{what}-#{System.unique_integer([:positive])}"
    )
  end

  defp publish(staging, target, backup) do
    with :ok <-
           if(File.exists?(target),
             do: fs(:move_old_target, target, File.rename(target, backup)),
             else: :ok
           ),
         do: fs(:publish, target, File.rename(staging, target))
  end

  defp clean_up(staging, target, backup) do
    File.rm_rf(staging)

    if File.exists?(backup) do
      if File.exists?(target), do: File.rm_rf(backup), else: File.rename(backup, target)
    end
  end

  defp fs(_step, _path, :ok), do: :ok
  defp fs(step, path, {:error, reason}), do: {:error, {step, path, reason}}
end
