defmodule BaileysEx.Auth.NIF.Tools do
  @moduledoc """
  Checks, converts and looks into auth directories of either drop-in
  (`BaileysEx.Auth.NIF.NativeFilePersistence`, ETF, and
  `BaileysEx.Auth.NIF.FilePersistence`, JSON). The Mix tasks
  `baileys_ex_nif.verify`, `baileys_ex_nif.migrate` and
  `baileys_ex_nif.inspect` call these functions.

  `verify/2` and `inspect_dir/2` never write into the directory: they read
  files with `File` and decode them in memory. They do not open it through
  the drop-ins, whose first call completes or drops a half-done commit and
  removes orphan temporary files.

  `import_baileys/3` and `export_baileys/3` convert between these
  directories and a Baileys JS (Node.js) `useMultiFileAuthState` folder;
  docs/BAILEYS_JS.md maps every field.

  The backend is detected from the directory's manifest, creds or key files
  unless `backend: :etf | :json` is given.
  """

  alias BaileysEx.Auth.NIF.Tools.{BaileysJS, Inspect, Migrate, Verify}

  @typedoc "`:etf` (NativeFilePersistence) or `:json` (FilePersistence)."
  @type backend :: :etf | :json

  @typedoc """
  One finding: the file it is about, how bad it is (`:error` means damaged
  data; `:warning` needs no repair, e.g. an orphan or an unindexed key;
  `:note` is informational, e.g. an id whose file name is lossy), a kind
  and a sentence.
  """
  @type problem :: %{
          file: String.t(),
          severity: :error | :warning | :note,
          kind: atom(),
          message: String.t()
        }

  @doc """
  Checks every file of `dir`: each creds and key file decodes; the manifest
  decodes and matches the files (indexed but missing, present but not
  indexed, ids whose file name a scan reads back differently, ids sharing a
  file); orphan temporary files, a half-done commit, unknown, unreadable and
  non-regular entries.

  Returns `{:ok, %{dir:, backend:, files:, keys:, problems: [problem()],
  status: :ok | :warnings | :damaged}}`. Options: `backend:`.
  """
  @spec verify(Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def verify(dir, opts \\ []) when is_binary(dir) and is_list(opts), do: Verify.run(dir, opts)

  @doc """
  Converts the auth directory `source` (format detected) into `target` in
  the format `to:` (`:etf` or `:json`): the creds and every key, each saved
  through the target drop-in and loaded back.

  The target is built in a hidden directory next to it, verified, then
  renamed into place; on any failure nothing is left but the previous
  target, if there was one. A non-empty `target` is refused unless
  `force: true`; `source` is only read, and refused if `verify/2` finds it
  damaged. `progress: fun/2` is called with (keys done, keys total).

  Returns `{:ok, %{from:, to:, creds?:, keys:, per_type:, inexact:, ...}}`
  where `inexact` lists `{what, source_value, loaded_back_value}` for every
  value the target format does not hold exactly.
  """
  @spec migrate(Path.t(), Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def migrate(source, target, opts)
      when is_binary(source) and is_binary(target) and is_list(opts),
      do: Migrate.run(source, target, opts)

  @doc """
  Imports the Baileys JS `useMultiFileAuthState` folder `source` (creds.json
  and `<type>-<id>.json` key files, as Baileys 6.x and 7.x write them) into
  a BaileysEx directory `target` in the format `to:` (`:etf`, the default,
  or `:json`), through the drop-in of that format. BaileysEx then loads it
  as the same device: creds, pre-keys, sessions, sender keys, sender-key
  memory, app-state sync keys and versions, and (Baileys 7) lid-mapping,
  device-list, tctoken and identity-key.

  The same safety as `migrate/3`: `source` is only read; `target` is built
  in a hidden directory next to it, verified, then renamed into place; a
  non-empty `target` is refused unless `force: true`.

  Returns `{:ok, %{to:, creds?:, keys:, per_type:, unmapped:, inexact:,
  absent:, baileys_7_types:, source:, target:}}`: `unmapped` lists every
  field or file that has no place in BaileysEx as `%{file:, field:, why:}`;
  `absent` the key types the folder has no file of. Bad input (no
  creds.json, a file that is not JSON, a wrong shape, bad base64) is
  `{:error, reason}` naming the file and field, and leaves nothing at
  `target`.
  """
  @spec import_baileys(Path.t(), Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def import_baileys(source, target, opts \\ [])
      when is_binary(source) and is_binary(target) and is_list(opts),
      do: BaileysJS.Import.run(source, target, opts)

  @doc """
  Exports the BaileysEx directory `source` (ETF or JSON, detected; or
  `backend:`) to a folder Baileys JS's `useMultiFileAuthState` loads:
  camelCase creds.json with BufferJSON, key files as Baileys writes them
  (sessions in libsignal's serialised record form). Every written file is
  read back and imported again; values that do not come back equal are
  listed in `inexact`. Same safety and options as `import_baileys/3`
  (`force:`); a damaged `source` is refused. `baileys:` picks the shapes of
  the Baileys major version that will read the folder: `6` (the default,
  npm's `latest`) or `7` (7.x stores sender keys as a Buffer of JSON text,
  which 6.x cannot read, and 6.x's list is what 7.x cannot read).

  Returns `{:ok, %{from:, baileys:, creds?:, keys:, per_type:, unmapped:,
  inexact:, source:, target:}}` or `{:error, reason}`.
  """
  @spec export_baileys(Path.t(), Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def export_baileys(source, target, opts \\ [])
      when is_binary(source) and is_binary(target) and is_list(opts),
      do: BaileysJS.Export.run(source, target, opts)

  @doc """
  Counts and bytes of key files per type, the oldest and newest files, and
  a creds summary (registered, me.id, platform, next pre-key id).
  Options: `backend:`.
  """
  @spec inspect_dir(Path.t(), keyword()) :: {:ok, map()} | {:error, term()}
  def inspect_dir(dir, opts \\ []) when is_binary(dir) and is_list(opts),
    do: Inspect.dir(dir, opts)

  @doc "The ids stored for one key type, each with its file name and size."
  @spec inspect_type(Path.t(), atom(), keyword()) :: {:ok, [map()]} | {:error, term()}
  def inspect_type(dir, type, opts \\ []) when is_binary(dir) and is_atom(type),
    do: Inspect.type(dir, type, opts)

  @doc """
  One key's value (type `:creds` and id nil for the credentials). Private
  key material is replaced by a note of its size unless `secrets: true`.
  """
  @spec inspect_key(Path.t(), atom(), String.t() | nil, keyword()) ::
          {:ok, term()} | {:error, term()}
  def inspect_key(dir, type, id, opts \\ []) when is_binary(dir) and is_atom(type),
    do: Inspect.key(dir, type, id, opts)
end
