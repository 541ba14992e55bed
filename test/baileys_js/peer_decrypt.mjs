// usage: node peer_decrypt.mjs AUTH_DIR PEERS_JSON
//
// Proves a folder still works as the device of generate.mjs: the device is
// loaded from (a scratch copy of) AUTH_DIR through useMultiFileAuthState and
// Baileys' signal repository, the peers from PEERS_JSON, and
//   * every peer with a session sends a NEW 1:1 message the device decrypts,
//     and the device answers on the same session;
//   * every peer with its own group sender key sends a NEW group message the
//     device decrypts with the sender key stored in the folder;
//   * the device sends a NEW group message with its stored sender key, which
//     every peer reads;
//   * a brand-new peer opens a session from the folder's identity, signed
//     pre-key and a remaining pre-key, and the device decrypts that pkmsg.
// AUTH_DIR and PEERS_JSON are left as they were. Prints
// {"ok": true, "plaintexts": [...]} or exits non-zero with the failing step.
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Baileys, Peer, deviceBundle, makeLibSignalRepository, quietConsole, fail, usage, fromJSONText } from './common.mjs'

const { useMultiFileAuthState, jidDecode } = Baileys

async function main () {
  const [authArg, peersArg] = process.argv.slice(2)
  if (!authArg || !peersArg) usage('node peer_decrypt.mjs AUTH_DIR PEERS_JSON')
  const scratch = await mkdtemp(join(tmpdir(), 'baileys-js-peer-'))
  try {
    const authDir = join(scratch, 'auth')
    await cp(resolve(authArg), authDir, { recursive: true })
    return await talk(authDir, fromJSONText(await readFile(resolve(peersArg), 'utf-8')))
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

async function talk (authDir, saved) {
  const { state } = await useMultiFileAuthState(authDir)
  const { creds } = state
  if (!creds.me || !creds.me.id) throw new Error('creds have no me.id: not a paired folder')
  const device = creds.me.id
  if (device !== saved.device) throw new Error(`folder belongs to ${device}, peers were made for ${saved.device}`)
  const group = saved.group
  const repo = makeLibSignalRepository(state)
  const peers = saved.peers.map(Peer.fromJSON)
  const { user, device: deviceId } = jidDecode(device)
  const deviceAddress = `${user}.${deviceId || 0}`
  const plaintexts = []
  const check = (got, want, step) => {
    if (got !== want) throw new Error(`${step}: decrypted ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
    plaintexts.push(got)
  }
  const step = async (name, fn) => {
    try { return await fn() } catch (error) { error.message = `${name}: ${error.message}`; throw error }
  }

  let sessions = 0
  for (const peer of peers) {
    const jid = peer.state.jid
    if (!peer.state.sessions[deviceAddress]) continue
    sessions++
    const text = `new 1:1 message from ${jid}`
    const msg = await peer.encryptTo(device, text)
    const plain = await step(`device decrypting ${msg.type} from ${jid}`, () =>
      repo.decryptMessage({ jid, type: msg.type, ciphertext: msg.ciphertext }))
    check(Buffer.from(plain).toString(), text, `${jid}->device`)
    const answer = `new answer to ${jid}`
    const out = await step(`device encrypting to ${jid}`, () => repo.encryptMessage({ jid, data: Buffer.from(answer) }))
    check(await step(`${jid} decrypting the answer`, () => peer.decryptFrom(device, out)), answer, `device->${jid}`)
  }
  if (sessions === 0) throw new Error('no peer has a session with the device')

  let groupSenders = 0
  for (const peer of peers) {
    const jid = peer.state.jid
    if (!peer.state.senderKeys[peer.senderKeyName(group)]) continue
    groupSenders++
    const text = `new group message from ${jid}`
    const { ciphertext } = await peer.groupEncrypt(group, text)
    const plain = await step(`device decrypting group message from ${jid}`, () =>
      repo.decryptGroupMessage({ group, authorJid: jid, msg: ciphertext }))
    check(Buffer.from(plain).toString(), text, `${jid}->group`)
  }
  if (groupSenders === 0) throw new Error('no peer has a sender key for the group')

  const groupText = 'new group message from the device'
  const own = await step('device encrypting to the group', () =>
    repo.encryptGroupMessage({ group, meId: device, data: Buffer.from(groupText) }))
  for (const peer of peers) {
    const jid = peer.state.jid
    check(await step(`${jid} decrypting the device's group message`, () =>
      peer.groupDecrypt(group, device, null, own.ciphertext)), groupText, `device->group read by ${jid}`)
  }

  const preKeyIds = (await readdir(authDir))
    .map((name) => /^pre-key-(\d+)\.json$/.exec(name))
    .filter(Boolean)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a)
  if (!preKeyIds.length) throw new Error('the folder holds no pre-keys')
  const preKeyId = preKeyIds[0]
  const { [preKeyId]: preKey } = await state.keys.get('pre-key', [String(preKeyId)])
  const newcomer = Peer.create('15550009999@s.whatsapp.net', 0)
  await newcomer.startSessionWith(device, deviceBundle(creds, preKeyId, preKey))
  const hello = 'first message from a new contact'
  const pk = await newcomer.encryptTo(device, hello)
  if (pk.type !== 'pkmsg') throw new Error(`new contact's first message is ${pk.type}, not pkmsg`)
  const plain = await step(`device decrypting a new contact's pkmsg on pre-key ${preKeyId}`, () =>
    repo.decryptMessage({ jid: newcomer.state.jid, type: 'pkmsg', ciphertext: pk.ciphertext }))
  check(Buffer.from(plain).toString(), hello, 'new contact->device')

  process.stdout.write(JSON.stringify({ ok: true, device, sessions, groupSenders, preKeyId, plaintexts }, null, 2) + '\n')
}

quietConsole()
main().catch((error) => fail('peer_decrypt failed', error))
