// Shared by the harness scripts: loads Baileys (CommonJS) and the libsignal
// copy Baileys itself resolves, keeps stdout for the one JSON result, and
// gives the local peers a plain in-memory libsignal store.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const baileysRequire = createRequire(require.resolve('baileys'))

export const Baileys = require('baileys')
export const WASignalGroup = require('baileys/WASignalGroup')
// Not re-exported from the package root in 6.x.
export const { makeLibSignalRepository } = require('baileys/lib/Signal/libsignal')
export const processMessage = require('baileys/lib/Utils/process-message').default
// The copy Baileys loads, so records are (de)serialised by the same code.
export const libsignal = baileysRequire('libsignal')
export const BAILEYS_VERSION = require('baileys/package.json').version
export const LIBSIGNAL_VERSION = baileysRequire('libsignal/package.json').version

const { BufferJSON } = Baileys

import { preKeyBundle } from './script.mjs'
export { quietConsole, fail, usage, silentLogger } from './script.mjs'

export const toJSONText = (value) => JSON.stringify(value, BufferJSON.replacer, 2)
export const fromJSONText = (text) => JSON.parse(text, BufferJSON.reviver)

// The device's pre-key bundle, with this Baileys' key prefixing.
export const deviceBundle = (creds, preKeyId, preKey) =>
  preKeyBundle(Baileys.generateSignalPubKey, creds, preKeyId, preKey)

// One local peer: its own identity, signed pre-key and pre-keys, and the
// sessions and sender keys it has built, held as libsignal's serialised forms
// so the whole peer can be written to JSON and picked up again later.
export class Peer {
  constructor (state) {
    this.state = state
  }

  static create (jid, preKeyCount = 3) {
    const { keyhelper } = libsignal
    const identity = keyhelper.generateIdentityKeyPair()
    const signed = keyhelper.generateSignedPreKey(identity, 1)
    const preKeys = {}
    for (let id = 1; id <= preKeyCount; id++) {
      preKeys[id] = keyhelper.generatePreKey(id).keyPair
    }
    return new Peer({
      jid,
      registrationId: keyhelper.generateRegistrationId(),
      identity,
      signedPreKey: { keyId: signed.keyId, keyPair: signed.keyPair, signature: signed.signature },
      preKeys,
      sessions: {},
      senderKeys: {}
    })
  }

  static fromJSON (state) {
    return new Peer(state)
  }

  toJSON () {
    return this.state
  }

  // What the server would hand out for this peer (libsignal's bundle shape).
  bundle (preKeyId) {
    const { registrationId, identity, signedPreKey, preKeys } = this.state
    return {
      registrationId,
      identityKey: identity.pubKey,
      signedPreKey: {
        keyId: signedPreKey.keyId,
        publicKey: signedPreKey.keyPair.pubKey,
        signature: signedPreKey.signature
      },
      preKey: { keyId: preKeyId, publicKey: preKeys[preKeyId].pubKey }
    }
  }

  // The storage interface libsignal's SessionBuilder/SessionCipher and
  // Baileys' GroupCipher/GroupSessionBuilder call.
  store () {
    const s = this.state
    return {
      loadSession: async (id) => s.sessions[id] ? libsignal.SessionRecord.deserialize(s.sessions[id]) : undefined,
      storeSession: async (id, record) => { s.sessions[id] = record.serialize() },
      isTrustedIdentity: () => true,
      loadPreKey: async (id) => s.preKeys[id],
      removePreKey: async (id) => { delete s.preKeys[id] },
      loadSignedPreKey: async () => s.signedPreKey.keyPair,
      getOurRegistrationId: () => s.registrationId,
      getOurIdentity: () => s.identity,
      loadSenderKey: async (name) => s.senderKeys[name] ? new WASignalGroup.SenderKeyRecord(s.senderKeys[name]) : undefined,
      storeSenderKey: async (name, record) => { s.senderKeys[name] = record.serialize() }
    }
  }

  address () {
    const { user, device } = Baileys.jidDecode(this.state.jid)
    return new libsignal.ProtocolAddress(user, device || 0)
  }

  async encryptTo (jid, plaintext) {
    const { user, device } = Baileys.jidDecode(jid)
    const cipher = new libsignal.SessionCipher(this.store(), new libsignal.ProtocolAddress(user, device || 0))
    const { type, body } = await cipher.encrypt(Buffer.from(plaintext))
    return { type: type === 3 ? 'pkmsg' : 'msg', ciphertext: Buffer.from(body, 'binary') }
  }

  async decryptFrom (jid, { type, ciphertext }) {
    const { user, device } = Baileys.jidDecode(jid)
    const cipher = new libsignal.SessionCipher(this.store(), new libsignal.ProtocolAddress(user, device || 0))
    const plain = type === 'pkmsg'
      ? await cipher.decryptPreKeyWhisperMessage(ciphertext)
      : await cipher.decryptWhisperMessage(ciphertext)
    return Buffer.from(plain).toString()
  }

  async startSessionWith (jid, bundle) {
    const { user, device } = Baileys.jidDecode(jid)
    const builder = new libsignal.SessionBuilder(this.store(), new libsignal.ProtocolAddress(user, device || 0))
    await builder.initOutgoing(bundle)
  }

  senderKeyName (group) {
    return new WASignalGroup.SenderKeyName(group, this.address()).toString()
  }

  // This peer's own sender key for `group`: the distribution message that
  // lets others read it, and a message encrypted with it.
  async groupEncrypt (group, plaintext) {
    const store = this.store()
    const name = this.senderKeyName(group)
    if (!this.state.senderKeys[name]) {
      await store.storeSenderKey(name, new WASignalGroup.SenderKeyRecord())
    }
    const distribution = await new WASignalGroup.GroupSessionBuilder(store).create(name)
    const ciphertext = await new WASignalGroup.GroupCipher(store, name).encrypt(Buffer.from(plaintext))
    return { ciphertext: Buffer.from(ciphertext), distribution: Buffer.from(distribution.serialize()) }
  }

  async groupDecrypt (group, authorJid, distribution, ciphertext) {
    const store = this.store()
    const { user, device } = Baileys.jidDecode(authorJid)
    const name = new WASignalGroup.SenderKeyName(group, new libsignal.ProtocolAddress(user, device || 0)).toString()
    if (distribution) {
      if (!this.state.senderKeys[name]) {
        await store.storeSenderKey(name, new WASignalGroup.SenderKeyRecord())
      }
      const message = new WASignalGroup.SenderKeyDistributionMessage(null, null, null, null, distribution)
      await new WASignalGroup.GroupSessionBuilder(store).process(name, message)
    }
    const plain = await new WASignalGroup.GroupCipher(store, name).decrypt(ciphertext)
    return Buffer.from(plain).toString()
  }
}
