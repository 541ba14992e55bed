defmodule BaileysEx.Auth.NIF.NativeFilePersistence do
  @moduledoc """
  Drop-in replacement for `BaileysEx.Auth.NativeFilePersistence`, implemented
  in Rust.

  It reads and writes the same directory: the same ETF files, byte for byte,
  under the same sanitised names, and the same manifest. Swap the module and
  existing auth directories keep working.

  What it does beyond the original:

    * real per-file locking for any number of processes, so concurrent saves
      never lose a manifest update and different files are written in parallel;
    * the manifest is rewritten only when its content changes, and decoded
      only when its bytes change;
    * loads every file BaileysEx writes in a fresh VM, while still refusing
      atoms that are not part of BaileysEx's auth data;
    * orphan `*.tmp-*` files from crashed writes are removed when a directory
      is first opened;
    * bad arguments return `{:error, reason}` instead of raising.

  The directory for the context-free functions is
  `config :baileys_ex_nif_persistence, #{inspect(__MODULE__)}, path: "..."`,
  else `baileys_native_auth_info` in the current working directory.
  """

  use BaileysEx.Auth.NIF.Backend, backend: :etf, helper: :use_native_file_auth_state
end
