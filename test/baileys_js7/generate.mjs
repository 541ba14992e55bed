// usage: node generate.mjs OUT_DIR
//
// Makes OUT_DIR/auth, a Baileys 7.x `useMultiFileAuthState` folder, through
// 7.x's own code: initAuthCreds, pairing from a made-up pair-success stanza
// (configureSuccessfulPairing, as ../baileys_js/generate.mjs does for 6.x),
// and a libsignal repository
// (makeLibSignalRepository) over the folder's keys that stores a session, the
// device's own sender key and another member's sender key with skipped
// message keys, all through 7.x's storeSession/storeSenderKey. Pre-keys,
// lid-mapping, device-list and tctoken are set through keys.set in the shapes
// 7.x's own code sets them. A second device (OUT_DIR/peer) plays the contact
// and the group member; every message is decrypted on the other side.
// Prints a JSON summary {ok, baileys, checks}. Every key is made up.
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createRequire } from 'node:module'
import * as Baileys from 'baileys'
import { makeLibSignalRepository } from 'baileys/lib/Signal/libsignal.js'
import { quietConsole, fail, usage, silentLogger, preKeyBundle } from '../baileys_js/script.mjs'
import { madeUpPairSuccess } from '../baileys_js/pairing.mjs'

const {
  useMultiFileAuthState, addTransactionCapability, configureSuccessfulPairing, Curve, generateSignalPubKey
} = Baileys

const require = createRequire(import.meta.url)
const BAILEYS_VERSION = require('baileys/package.json').version

const DEVICE = { id: '15550001000:7@s.whatsapp.net', lid: '100000000000007:7@lid' }
const PEER = { id: '15550002001:0@s.whatsapp.net', lid: '100000000002001:0@lid' }
const GROUP = '120363000000000001@g.us'

// A device as 7.x's socket holds it: the folder's creds and keys, the keys
// with 7.x's transaction layer, and the libsignal repository over them.
async function device (dir, me) {
  const { state, saveCreds } = await useMultiFileAuthState(dir)
  const received = await madeUpPairSuccess(Baileys, state.creds, me.id, me.lid)
  Object.assign(state.creds, configureSuccessfulPairing(received, state.creds).creds)
  state.creds.me = { ...state.creds.me, lid: me.lid }
  const keys = addTransactionCapability(state.keys, silentLogger, {
    maxCommitRetries: 1,
    delayBetweenTriesMs: 1
  })
  const repo = makeLibSignalRepository({ creds: state.creds, keys }, silentLogger)
  await saveCreds()
  return { creds: state.creds, keys, repo }
}

async function main () {
  const outArg = process.argv[2]
  if (!outArg) usage('node generate.mjs OUT_DIR')
  const out = resolve(outArg)
  const authDir = join(out, 'auth')
  if (await stat(authDir).catch(() => null)) throw new Error(`${authDir} already exists; give a fresh OUT_DIR`)

  const checks = []
  const check = (name, ok) => {
    if (!ok) throw new Error(`check failed: ${name}`)
    checks.push(name)
  }

  const me = await device(authDir, DEVICE)
  const peer = await device(join(out, 'peer'), PEER)

  await me.keys.set({ 'pre-key': { 1: Curve.generateKeyPair(), 2: Curve.generateKeyPair() } })
  const peerPreKey = Curve.generateKeyPair()
  await peer.keys.set({ 'pre-key': { 5: peerPreKey } })

  // A session: the device starts one from the peer's bundle and writes.
  await me.repo.injectE2ESession({
    jid: PEER.id,
    session: preKeyBundle(generateSignalPubKey, peer.creds, 5, peerPreKey)
  })
  const hello = await me.repo.encryptMessage({ jid: PEER.id, data: Buffer.from('hello peer') })
  const heard = await peer.repo.decryptMessage({ jid: DEVICE.id, ...hello })
  check('peer decrypts the device\'s first message', Buffer.from(heard).toString() === 'hello peer')

  // The device's own sender key for the group.
  const own = await me.repo.encryptGroupMessage({ group: GROUP, meId: DEVICE.id, data: Buffer.from('hi group') })
  await peer.repo.processSenderKeyDistributionMessage({
    item: { groupId: GROUP, axolotlSenderKeyDistributionMessage: own.senderKeyDistributionMessage },
    authorJid: DEVICE.id
  })
  const ownPlain = await peer.repo.decryptGroupMessage({ group: GROUP, authorJid: DEVICE.id, msg: own.ciphertext })
  check('peer decrypts the device\'s group message', Buffer.from(ownPlain).toString() === 'hi group')

  // The peer's sender key on the device, with two skipped message keys kept.
  const sent = []
  for (const text of ['one', 'two', 'three']) {
    sent.push(await peer.repo.encryptGroupMessage({ group: GROUP, meId: PEER.id, data: Buffer.from(text) }))
  }
  await me.repo.processSenderKeyDistributionMessage({
    item: { groupId: GROUP, axolotlSenderKeyDistributionMessage: sent[0].senderKeyDistributionMessage },
    authorJid: PEER.id
  })
  const third = await me.repo.decryptGroupMessage({ group: GROUP, authorJid: PEER.id, msg: sent[2].ciphertext })
  check('device decrypts the third group message first', Buffer.from(third).toString() === 'three')

  // What 7.x's socket stores for these types (lid-mapping through its store).
  await me.repo.lidMapping.storeLIDPNMappings([{ lid: '100000000003001@lid', pn: '15550003001@s.whatsapp.net' }])
  await me.keys.set({
    'device-list': { 15550002001: ['0', '4'] },
    tctoken: { '15550002001@s.whatsapp.net': { token: Buffer.from('made-up trusted contact token'), timestamp: '1710000000' } },
    'sender-key-memory': { [GROUP]: { [PEER.id]: true } }
  })

  process.stdout.write(JSON.stringify({ ok: true, baileys: BAILEYS_VERSION, checks }) + '\n')
}

quietConsole()
main().catch((error) => fail('generate failed', error))
