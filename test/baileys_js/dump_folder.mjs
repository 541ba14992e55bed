// The canonical dump, shared by the dump.mjs of each Baileys version's harness
// (test/baileys_js for 6.x, test/baileys_js7 for 7.x). It imports no Baileys
// itself: each dump.mjs hands it that version's own readers.
//
// usage: node dump.mjs AUTH_DIR
//
// Loads a Baileys `useMultiFileAuthState` folder the way Baileys JS does
// (creds, then keys.get(type, ids) for every key file present) and prints ONE
// canonical JSON document of what Baileys reads. It is the common language of
// the bridge tests: the same folder dumped before and after a round trip
// through BaileysEx must print the same document.
//
// Canonical form
//   {"creds": {...}, "keys": {"<type>": {"<id>": value}}}
//   * Object keys are sorted (byte order) at every level; no whitespace.
//   * Every binary (Buffer/Uint8Array) is lowercase hex. Other strings stay
//     strings (creds.advSecretKey is base64 text in Baileys and stays so).
//   * protobuf int64 (Long) values are JSON numbers (strings when beyond 2^53).
//   * undefined fields are left out; null stays null.
//   * <id> is the id Baileys passes to keys.get/set, recovered from the file
//     name `<type>-<id>.json` (the writer turned "/" into "__" and ":" into
//     "-"; sender-key ids are `<group>::<user>::<device>`, written "--").
//   * Only types present on disk appear; a type with no files is absent.
// creds: the stored creds as read, with `account` normalised through
//   proto.ADVSignedDeviceIdentity.fromObject (on disk its bytes are base64
//   text; Baileys hands the object to protobuf, which reads them as bytes).
// keys, per type:
//   pre-key              {"private": hex, "public": hex}
//   session              {"<baseKey hex>": {registrationId,
//                          currentRatchet {ephemeralKeyPair {privKey, pubKey},
//                          lastRemoteEphemeralKey, previousCounter, rootKey},
//                          indexInfo {baseKey, baseKeyType, closed, created,
//                          remoteIdentityKey, used},
//                          chains {"<ratchet key hex>": {chainKey {counter,
//                          key (hex or null)}, chainType, messageKeys {"<n>": hex}}},
//                          pendingPreKey {baseKey, preKeyId?, signedKeyId} or null}}
//                        from libsignal's SessionRecord.deserialize.
//   sender-key           {"states": [{senderKeyId, senderChainKey {iteration,
//                          seed}, senderSigningKey {private (hex or null),
//                          public}, senderMessageKeys [{iteration, seed}]}]}
//                        from that version's SenderKeyRecord (6.x builds it
//                        from the stored list, 7.x deserialises the stored
//                        Buffer of JSON text); a message key whose fields
//                        did not survive storage shows null fields.
//   sender-key-memory    {"<device jid>": true|false}
//   app-state-sync-key   {fingerprint {currentIndex, deviceIndexes, rawId},
//                          keyData: hex, timestamp: number} as
//                        proto.Message.AppStateSyncKeyData.fromObject reads it.
//   app-state-sync-version {hash: hex, indexValueMap {"<b64 index mac>":
//                          {valueMac: hex}}, version: number}
//   anything else        the value as read, converted by the rules above.
import { readdir, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { quietConsole, fail, usage } from './script.mjs'

// Longest first, so "sender-key-memory-x" is not read as sender-key "memory-x".
// lid-mapping, device-list, tctoken and identity-key are Baileys 7 key types
// (absent from 6.x); they are recognised so a folder from either version can
// be dumped.
const KEY_TYPES = [
  'app-state-sync-version', 'app-state-sync-key', 'sender-key-memory', 'sender-key',
  'identity-key', 'lid-mapping', 'device-list', 'session', 'pre-key', 'tctoken'
]

const isBytes = (v) => Buffer.isBuffer(v) || v instanceof Uint8Array
const isLong = (v) => v !== null && typeof v === 'object' && typeof v.low === 'number' &&
  typeof v.high === 'number' && typeof v.unsigned === 'boolean'
const hex = (v) => Buffer.from(v).toString('hex')
const b64hex = (s) => Buffer.from(s, 'base64').toString('hex')
// A value that protobuf or libsignal may hold as bytes or as base64 text.
const bytesHex = (v) => v === undefined || v === null ? null : (typeof v === 'string' ? b64hex(v) : hex(v))

function canonical (value) {
  if (value === null) return null
  if (isBytes(value)) return hex(value)
  if (isLong(value)) {
    const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0)
    return canonical(value.unsigned ? bits : BigInt.asIntN(64, bits))
  }
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonical(v)))
  if (typeof value === 'object') {
    const out = {}
    for (const k of Object.keys(value).sort()) {
      if (value[k] !== undefined && typeof value[k] !== 'function') out[k] = canonical(value[k])
    }
    return out
  }
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  return value
}

function fileToKey (name) {
  if (!name.endsWith('.json') || name === 'creds.json') return null
  const type = KEY_TYPES.find((t) => name.startsWith(t + '-'))
  if (!type) throw new Error(`unrecognised file in auth folder: ${name}`)
  const stem = name.slice(type.length + 1, -'.json'.length)
  const id = type === 'sender-key' ? stem.replaceAll('--', '::') : stem.replaceAll('__', '/')
  return { type, id }
}

function session (record) {
  const out = {}
  for (const entry of Object.values(record.sessions)) {
    const chains = {}
    for (const [ratchetKey, chain] of entry.chains()) {
      const messageKeys = {}
      for (const [n, key] of Object.entries(chain.messageKeys)) messageKeys[n] = hex(key)
      chains[hex(ratchetKey)] = {
        chainKey: { counter: chain.chainKey.counter, key: chain.chainKey.key ? hex(chain.chainKey.key) : null },
        chainType: chain.chainType,
        messageKeys
      }
    }
    const { currentRatchet: r, indexInfo: i, pendingPreKey: p } = entry
    out[hex(i.baseKey)] = {
      registrationId: entry.registrationId,
      currentRatchet: {
        ephemeralKeyPair: { pubKey: hex(r.ephemeralKeyPair.pubKey), privKey: hex(r.ephemeralKeyPair.privKey) },
        lastRemoteEphemeralKey: hex(r.lastRemoteEphemeralKey),
        previousCounter: r.previousCounter,
        rootKey: hex(r.rootKey)
      },
      indexInfo: {
        baseKey: hex(i.baseKey),
        baseKeyType: i.baseKeyType,
        closed: i.closed,
        used: i.used,
        created: i.created,
        remoteIdentityKey: hex(i.remoteIdentityKey)
      },
      chains,
      pendingPreKey: p ? { ...p, baseKey: hex(p.baseKey) } : null
    }
  }
  return out
}

function senderKey (record) {
  return {
    states: record.senderKeyStates.map((state) => {
      const chain = state.getSenderChainKey()
      const priv = state.getSigningKeyPrivate()
      return {
        senderKeyId: state.getKeyId(),
        senderChainKey: { iteration: chain.getIteration(), seed: bytesHex(chain.getSeed()) },
        senderSigningKey: { public: bytesHex(state.getSigningKeyPublic()), private: priv && priv.length ? bytesHex(priv) : null },
        senderMessageKeys: state.getStructure().senderMessageKeys.map((k) => ({
          iteration: k.iteration === undefined ? null : k.iteration,
          seed: bytesHex(k.seed)
        }))
      }
    })
  }
}

// `baileys` holds one version's readers: useMultiFileAuthState, proto,
// senderKeyRecord(stored value) and sessionRecord(stored value).
async function dump (baileys) {
  const { useMultiFileAuthState, proto } = baileys
  const convert = {
    session: (v) => session(baileys.sessionRecord(v)),
    'sender-key': (v) => senderKey(baileys.senderKeyRecord(v))
  }
  const dirArg = process.argv[2]
  if (!dirArg) usage('node dump.mjs AUTH_DIR')
  const dir = resolve(dirArg)
  const info = await stat(dir).catch(() => null)
  if (!info || !info.isDirectory()) throw new Error(`not a directory: ${dir}`)
  const names = (await readdir(dir)).sort()
  if (!names.includes('creds.json')) throw new Error(`no creds.json in ${dir}`)

  const { state } = await useMultiFileAuthState(dir)
  const creds = { ...state.creds }
  if (creds.account) creds.account = proto.ADVSignedDeviceIdentity.fromObject(creds.account)

  const idsByType = {}
  for (const name of names) {
    const key = fileToKey(name)
    if (key) (idsByType[key.type] ||= []).push(key.id)
  }
  const keys = {}
  for (const [type, ids] of Object.entries(idsByType)) {
    const values = await state.keys.get(type, ids)
    keys[type] = {}
    for (const id of ids) {
      const value = values[id]
      if (value === null || value === undefined) throw new Error(`Baileys could not read ${type} ${id}`)
      keys[type][id] = (convert[type] || ((v) => v))(value)
    }
  }
  process.stdout.write(JSON.stringify(canonical({ creds, keys })) + '\n')
}

// Prints the dump of the folder named on the command line.
export function runDump (baileys) {
  quietConsole()
  dump(baileys).catch((error) => fail('dump failed', error))
}
