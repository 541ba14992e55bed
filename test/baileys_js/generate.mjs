// usage: node generate.mjs OUT_DIR
//
// Builds OUT_DIR/auth, a Baileys `useMultiFileAuthState` folder for a made-up
// linked device, by running Baileys' own code on made-up server input (no
// sockets, nothing leaves the machine):
//   * initAuthCreds, then pairing from a made-up pair-success stanza
//     (configureSuccessfulPairing: HMAC and account signature must verify);
//   * the first pre-key upload (getNextPreKeysNode) and its creds counters;
//   * 1:1 sessions with four local peers through Baileys' signal repository
//     (both directions, one delivered out of order so skipped message keys
//     are stored), one peer on a non-zero device id;
//   * a group: the device's own sender key (encryptGroupMessage plus the
//     sender-key-memory the socket writes) and a peer's sender key received
//     through processSenderKeyDistributionMessage, out of order;
//   * app-state sync keys from a key-share protocol message run through
//     processMessage, and an app-state version from encodeSyncdPatch.
// The peers (their libsignal stores) go to OUT_DIR/peers.json, never into the
// auth folder, so peer_decrypt.mjs can later make them talk to the device.
// Prints a short JSON summary on stdout; exits non-zero on any failure.
import { mkdir, writeFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Baileys, Peer, deviceBundle, makeLibSignalRepository, processMessage, quietConsole, fail, usage, silentLogger, toJSONText, BAILEYS_VERSION, LIBSIGNAL_VERSION } from './common.mjs'
import { madeUpPairSuccess } from './pairing.mjs'

const {
  useMultiFileAuthState, configureSuccessfulPairing, getNextPreKeysNode,
  addTransactionCapability, encodeSyncdPatch, chatModificationToAppPatch, newLTHashState,
  encodeBinaryNode, decodeBinaryNode, Curve, proto, jidDecode, INITIAL_PREKEY_COUNT
} = Baileys

// Made-up identities: +1 555 numbers are reserved for fiction.
export const DEVICE_JID = '15550001000:7@s.whatsapp.net'
export const DEVICE_LID = '100000000000007:7@lid'
export const PEER_JIDS = [
  '15550002001@s.whatsapp.net', '15550002002@s.whatsapp.net', '15550002003:4@s.whatsapp.net', '15550002004@s.whatsapp.net'
]
export const GROUP_JID = '120363000000000001@g.us'

async function main () {
  const outArg = process.argv[2]
  if (!outArg) usage('node generate.mjs OUT_DIR')
  const out = resolve(outArg)
  const authDir = join(out, 'auth')
  if (await stat(authDir).catch(() => null)) throw new Error(`${authDir} already exists; give a fresh OUT_DIR`)
  await mkdir(out, { recursive: true })

  const { state, saveCreds } = await useMultiFileAuthState(authDir)
  const { creds } = state
  // What the socket does with every 'creds.update' event.
  const credsUpdate = async (update) => { Object.assign(creds, update); await saveCreds() }
  await saveCreds()

  // --- pairing --------------------------------------------------------------
  const received = await madeUpPairSuccess(Baileys, creds, DEVICE_JID)
  const paired = configureSuccessfulPairing(received, creds)
  await credsUpdate(paired.creds)

  // --- login: the first pre-key upload, then the server's success attrs ------
  const { update: preKeyUpdate } = await getNextPreKeysNode({ creds, keys: state.keys }, INITIAL_PREKEY_COUNT)
  await credsUpdate(preKeyUpdate)
  await credsUpdate({ me: { ...creds.me, lid: DEVICE_LID } })
  // Fields the socket assigns from server nodes once connected.
  creds.routingInfo = Buffer.from('0806080d0805', 'hex')
  creds.lastPropHash = '3gPUJk'
  await credsUpdate({ accountSyncCounter: 1 })
  await credsUpdate({ lastAccountSyncTimestamp: 1700000100 })

  // --- 1:1 sessions -----------------------------------------------------------
  const repo = makeLibSignalRepository(state)
  const peers = PEER_JIDS.map((jid) => Peer.create(jid))
  const transcript = []
  const bundleFor = async (preKeyId) => {
    const { [preKeyId]: preKey } = await state.keys.get('pre-key', [String(preKeyId)])
    if (!preKey) throw new Error(`pre-key ${preKeyId} missing from the folder`)
    return deviceBundle(creds, preKeyId, preKey)
  }
  const deviceDecrypt = async (peer, message) => {
    const plain = await repo.decryptMessage({ jid: peer.state.jid, type: message.type, ciphertext: message.ciphertext })
    return Buffer.from(plain).toString()
  }
  const expectEqual = (got, want, what) => {
    if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
    transcript.push(what)
  }

  // Peers 0 and 2 start the session (they take one of the device's pre-keys,
  // as the server hands them out); the device starts the ones with peers 1
  // and 3. Peer 3 reads but never answers, so the device's record keeps its
  // pending pre-key.
  for (const [i, peer] of peers.entries()) {
    const jid = peer.state.jid
    if (i === 3) {
      await repo.injectE2ESession({ jid, session: peer.bundle(2) })
      const first = await repo.encryptMessage({ jid, data: Buffer.from(`unanswered hello ${jid}`) })
      expectEqual(await peer.decryptFrom(DEVICE_JID, first), `unanswered hello ${jid}`, `device->${jid} pkmsg, no reply`)
    } else if (i === 1) {
      await repo.injectE2ESession({ jid, session: peer.bundle(1) })
      const first = await repo.encryptMessage({ jid, data: Buffer.from(`hello ${jid} from device`) })
      expectEqual(first.type, 'pkmsg', `device->${jid} first message type`)
      expectEqual(await peer.decryptFrom(DEVICE_JID, first), `hello ${jid} from device`, `device->${jid} pkmsg`)
      const reply = await peer.encryptTo(DEVICE_JID, `reply from ${jid}`)
      expectEqual(await deviceDecrypt(peer, reply), `reply from ${jid}`, `${jid}->device msg`)
    } else {
      await peer.startSessionWith(DEVICE_JID, await bundleFor(i + 1))
      const first = await peer.encryptTo(DEVICE_JID, `hello device from ${jid}`)
      expectEqual(first.type, 'pkmsg', `${jid}->device first message type`)
      expectEqual(await deviceDecrypt(peer, first), `hello device from ${jid}`, `${jid}->device pkmsg`)
      const reply = await repo.encryptMessage({ jid, data: Buffer.from(`reply to ${jid}`) })
      expectEqual(await peer.decryptFrom(DEVICE_JID, reply), `reply to ${jid}`, `device->${jid} msg`)
    }
  }
  // Out of order from peer 0: the device stores the keys of the skipped two.
  {
    const peer = peers[0]
    const jid = peer.state.jid
    const burst = []
    for (let n = 1; n <= 4; n++) burst.push(await peer.encryptTo(DEVICE_JID, `burst ${n}`))
    expectEqual(await deviceDecrypt(peer, burst[3]), 'burst 4', `${jid}->device burst 4 first`)
    expectEqual(await deviceDecrypt(peer, burst[0]), 'burst 1', `${jid}->device burst 1 late`)
    // burst 2 and 3 stay undelivered: their message keys remain in the session.
  }

  // --- group ------------------------------------------------------------------
  const meId = creds.me.id
  const own = await repo.encryptGroupMessage({ group: GROUP_JID, meId, data: Buffer.from('group hello from device') })
  // The socket records which devices have been sent the distribution message.
  const senderKeyMap = {}
  for (const peer of peers) {
    const jid = peer.state.jid
    expectEqual(
      await peer.groupDecrypt(GROUP_JID, meId, own.senderKeyDistributionMessage, own.ciphertext),
      'group hello from device', `device->group read by ${jid}`
    )
    senderKeyMap[jid] = true
  }
  await state.keys.set({ 'sender-key-memory': { [GROUP_JID]: senderKeyMap } })

  for (const peer of [peers[0], peers[2]]) {
    const jid = peer.state.jid
    const m1 = await peer.groupEncrypt(GROUP_JID, `group 1 from ${jid}`)
    const m2 = await peer.groupEncrypt(GROUP_JID, `group 2 from ${jid}`)
    const m3 = await peer.groupEncrypt(GROUP_JID, `group 3 from ${jid}`)
    await repo.processSenderKeyDistributionMessage({
      item: { groupId: GROUP_JID, axolotlSenderKeyDistributionMessage: m1.distribution },
      authorJid: jid
    })
    const groupDecrypt = async (m) => Buffer.from(await repo.decryptGroupMessage({ group: GROUP_JID, authorJid: jid, msg: m.ciphertext })).toString()
    expectEqual(await groupDecrypt(m1), `group 1 from ${jid}`, `${jid}->group 1`)
    // 3 before 2: the key of 2 is kept for later.
    expectEqual(await groupDecrypt(m3), `group 3 from ${jid}`, `${jid}->group 3 early`)
  }

  // --- app state --------------------------------------------------------------
  const keyShare = {
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE,
      appStateSyncKeyShare: {
        keys: [1, 2].map((n) => ({
          keyId: { keyId: Buffer.from([0, 0, 0, 0, 0x10 + n, 0x20]) },
          keyData: {
            keyData: Buffer.alloc(32, n),
            fingerprint: { rawId: 0x5eed00 + n, currentIndex: n, deviceIndexes: [0, n] },
            timestamp: 1700000200 + n
          }
        }))
      }
    }
  }
  // As it arrives: encoded by the phone, decoded by Baileys.
  const shareMessage = proto.Message.decode(proto.Message.encode(keyShare).finish())
  const keyStore = addTransactionCapability(state.keys, silentLogger, { maxCommitRetries: 1, delayBetweenTriesMs: 0 })
  const events = []
  const ev = { emit: (name, data) => { events.push([name, data]); return true } }
  await processMessage(
    { key: { remoteJid: jidDecode(meId).user + '@s.whatsapp.net', fromMe: true, id: 'KEYSHARE1' }, message: shareMessage, messageTimestamp: 1700000201 },
    { shouldProcessHistoryMsg: false, ev, creds, keyStore, logger: silentLogger, options: {}, getMessage: async () => undefined }
  )
  for (const [name, data] of events) if (name === 'creds.update') await credsUpdate(data)
  if (!creds.myAppStateKeyId) throw new Error('processMessage did not set myAppStateKeyId')

  const getAppStateSyncKey = async (id) => (await state.keys.get('app-state-sync-key', [id]))[id]
  const patchCreate = chatModificationToAppPatch({ mute: 1700086400000 }, PEER_JIDS[0])
  const { state: syncState } = await encodeSyncdPatch(patchCreate, creds.myAppStateKeyId, newLTHashState(), getAppStateSyncKey)
  await state.keys.set({ 'app-state-sync-version': { [patchCreate.type]: syncState } })

  await saveCreds()
  await writeFile(join(out, 'peers.json'), toJSONText({
    device: DEVICE_JID,
    group: GROUP_JID,
    peers: peers.map((p) => p.toJSON())
  }))
  process.stdout.write(JSON.stringify({
    ok: true,
    baileys: BAILEYS_VERSION,
    libsignal: LIBSIGNAL_VERSION,
    auth: authDir,
    peers: join(out, 'peers.json'),
    checks: transcript
  }, null, 2) + '\n')
}

quietConsole()
main().catch((error) => fail('generate failed', error))
