// usage: node dump.mjs AUTH_DIR
//
// The canonical dump (documented at the top of ../baileys_js/dump_folder.mjs)
// of a folder as Baileys 7.x reads it.
import { createRequire } from 'node:module'
import { useMultiFileAuthState, proto } from 'baileys'
import { SenderKeyRecord } from 'baileys/lib/Signal/Group/index.js'
import { runDump } from '../baileys_js/dump_folder.mjs'

// The libsignal copy Baileys itself loads.
const require = createRequire(import.meta.url)
const libsignal = createRequire(require.resolve('baileys'))('libsignal')

runDump({
  useMultiFileAuthState,
  proto,
  // 7.x stores a Buffer of the states' JSON text; its own loadSenderKey
  // reads it back through SenderKeyRecord.deserialize.
  senderKeyRecord: (value) => SenderKeyRecord.deserialize(value),
  sessionRecord: (value) => libsignal.SessionRecord.deserialize(value)
})
