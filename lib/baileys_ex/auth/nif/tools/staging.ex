defmodule BaileysEx.Auth.NIF.Tools.Staging do
  @moduledoc false
  # How the tools that write a whole auth directory (migrate, the Baileys JS
  # bridge) replace their target: a non-empty target is refused unless
  # forced; the new directory is built in a hidden sibling and renamed into
  # place only once it is complete and checked; whatever happens before the
  # rename (an error, a raise), the staging directory goes and the previous
  # target, if any, is left as it was.
  #
  # Every filesystem call runs through `step.(label, fun)`, so that a caller
  # can count them or make one fail (migrate's fault tests do).

  @typedoc "Runs one filesystem call (`fun`), labelled."
  @type step :: (atom(), function() -> term())

  @doc """
  Builds the target with `build.(staging_dir)` (`{:ok, result}` or
  `{:error, reason}`) and publishes it; `what` names the staging directory.
  """
  @spec run(
          Path.t(),
          boolean(),
          String.t(),
          (Path.t() -> {:ok, term()} | {:error, term()}),
          step()
        ) ::
          {:ok, term()} | {:error, term()}
  def run(target, force?, what, build, step \\ &call/2)
      when is_binary(target) and is_boolean(force?) and is_function(build, 1) and
             is_function(step, 2) do
    with :ok <- target_free(target, force?, step) do
      staging = sibling(target, what)
      backup = sibling(target, "replaced")
      parent = Path.dirname(staging)

      try do
        with :ok <- fs(step, :mkdir_parent, parent, fn -> File.mkdir_p(parent) end),
             :ok <- fs(step, :mkdir_staging, staging, fn -> File.mkdir(staging) end),
             {:ok, result} <- build.(staging),
             :ok <- publish(staging, target, backup, step),
             do: {:ok, result}
      after
        clean_up(staging, target, backup)
      end
    end
  end

  @doc "Writes a file of the staging directory, naming it in an error."
  @spec write(Path.t(), iodata()) :: :ok | {:error, term()}
  def write(path, data), do: fs(&call/2, :write, path, fn -> File.write(path, data) end)

  @doc """
  Runs `fun` through `step`; an `{:error, posix}` it returns names the
  call and the path: `{:error, {label, path, posix}}`.
  """
  @spec fs(step(), atom(), Path.t(), function()) :: term()
  def fs(step, label, path, fun) do
    case step.(label, fun) do
      {:error, reason} when is_atom(reason) -> {:error, {label, path, reason}}
      other -> other
    end
  end

  defp call(_label, fun), do: fun.()

  defp target_free(target, force?, step) do
    case step.(:stat_target, fn -> File.stat(target) end) do
      {:error, :enoent} -> :ok
      {:ok, %{type: :directory}} -> target_empty(target, force?, step)
      {:ok, %{type: type}} -> {:error, {:target_not_a_directory, target, type}}
      {:error, reason} -> {:error, {:cannot_stat_target, target, reason}}
    end
  end

  defp target_empty(target, force?, step) do
    case step.(:list_target, fn -> File.ls(target) end) do
      {:ok, []} -> :ok
      {:ok, _names} when force? -> :ok
      {:ok, _names} -> {:error, {:target_not_empty, target}}
      {:error, reason} -> {:error, {:cannot_list_target, target, reason}}
    end
  end

  defp sibling(target, what) do
    Path.join(
      Path.dirname(target),
      ".#{Path.basename(target)}.#{what}-#{System.unique_integer([:positive])}"
    )
  end

  defp publish(staging, target, backup, step) do
    with :ok <-
           if(File.exists?(target),
             do: fs(step, :move_old_target, target, fn -> File.rename(target, backup) end),
             else: :ok
           ),
         do: fs(step, :publish, target, fn -> File.rename(staging, target) end)
  end

  # Leaves either the new target or the old one (if any), never a mix, and
  # no staging or backup directory.
  defp clean_up(staging, target, backup) do
    File.rm_rf(staging)

    if File.exists?(backup) do
      if File.exists?(target), do: File.rm_rf(backup), else: File.rename(backup, target)
    end
  end
end
