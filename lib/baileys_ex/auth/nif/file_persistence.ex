defmodule BaileysEx.Auth.NIF.FilePersistence do
  @moduledoc """
  Drop-in replacement for `BaileysEx.Auth.FilePersistence`, the Baileys-style
  JSON multi-file layout, implemented in Rust.

  It reads and writes the same directory: `creds.json`, one
  `<type>-<id>.json` file per key under the same sanitised names, and the
  same manifest. The JSON has the same keys and shapes (Buffers as
  `{"type":"Buffer","data":"<base64>"}`), so the original and Baileys JS
  sidecars read what this module writes, and it loads what they wrote,
  legacy tagged files included.

  What it does beyond the original:

    * every data file is fsynced before it replaces the old one (the original
      only renames), so an acknowledged write survives a crash;
    * real per-file locking, and the manifest is rewritten only when its
      content changes;
    * JSON encoding and decoding in Rust, bounded in nesting depth and size,
      so hostile input gives `{:error, reason}`, never a crashed VM;
    * where the original raises (non-map creds JSON, a non-UTF-8 string
      field, a nil field inside `account`), this returns `{:error, reason}`.

  The directory for the context-free functions is
  `config :baileys_ex_nif_persistence, #{inspect(__MODULE__)}, path: "..."`,
  else `baileys_auth_info` in the current working directory.
  """

  use BaileysEx.Auth.NIF.Backend, backend: :json, helper: :use_multi_file_auth_state
end
