// The server's pair-success stanza for a made-up account, shared by the
// generate.mjs of each Baileys version's harness: `baileys` is that version's
// package (Curve, proto, encodeBinaryNode, decodeBinaryNode), `creds` the
// device's fresh creds, `deviceLid` the LID the server names beside the jid
// (7.x reads it; 6.x's stanza had none). Returns the stanza as the socket receives it (binary
// on the wire, decoded by Baileys), for Baileys' configureSuccessfulPairing,
// which checks its HMAC and account signature.
import { createHmac } from 'node:crypto'

export async function madeUpPairSuccess (baileys, creds, deviceJid, deviceLid) {
  const { Curve, proto, encodeBinaryNode, decodeBinaryNode } = baileys
  const accountKey = Curve.generateKeyPair()
  const deviceDetails = proto.ADVDeviceIdentity.encode({ rawId: 0x1c0ffee, timestamp: 1700000000, keyIndex: 3 }).finish()
  const accountSignature = Curve.sign(
    accountKey.private,
    Buffer.concat([Buffer.from([6, 0]), deviceDetails, creds.signedIdentityKey.public])
  )
  const signedIdentity = proto.ADVSignedDeviceIdentity.encode({
    details: deviceDetails, accountSignatureKey: accountKey.public, accountSignature
  }).finish()
  const hmac = createHmac('sha256', Buffer.from(creds.advSecretKey, 'base64')).update(signedIdentity).digest()
  const stanza = {
    tag: 'iq',
    attrs: { from: 's.whatsapp.net', type: 'set', id: '1700000000-1' },
    content: [{
      tag: 'pair-success',
      attrs: {},
      content: [
        { tag: 'device-identity', attrs: {}, content: proto.ADVSignedDeviceIdentityHMAC.encode({ details: signedIdentity, hmac }).finish() },
        { tag: 'platform', attrs: { name: 'smba' } },
        { tag: 'device', attrs: deviceLid ? { jid: deviceJid, lid: deviceLid } : { jid: deviceJid } },
        { tag: 'biz', attrs: { name: 'Made Up Shop' } }
      ]
    }]
  }
  return decodeBinaryNode(encodeBinaryNode(stanza))
}
