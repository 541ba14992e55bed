// usage: node dump.mjs AUTH_DIR
//
// The canonical dump (documented at the top of dump_folder.mjs) of a folder as
// Baileys 6.x reads it.
import { Baileys, WASignalGroup, libsignal } from './common.mjs'
import { runDump } from './dump_folder.mjs'

runDump({
  useMultiFileAuthState: Baileys.useMultiFileAuthState,
  proto: Baileys.proto,
  // 6.x stores the list of states itself.
  senderKeyRecord: (value) => new WASignalGroup.SenderKeyRecord(value),
  sessionRecord: (value) => libsignal.SessionRecord.deserialize(value)
})
