// What every harness script shares and that needs no Baileys (so that the
// 6.x and 7.x harnesses both use it): stdout kept for the one JSON result,
// errors to stderr with an exit status, a silent logger, a pre-key bundle.

// libsignal reports session changes through console.info/warn; stdout must
// carry nothing but the result document.
export function quietConsole () {
  const toStderr = (...args) => process.stderr.write(args.map(String).join(' ') + '\n')
  console.log = toStderr
  console.info = toStderr
  console.warn = toStderr
  console.debug = toStderr
}

export function fail (what, error) {
  const detail = error && error.stack ? error.stack : String(error)
  process.stderr.write(`${what}: ${detail}\n`)
  process.exit(1)
}

export function usage (text) {
  process.stderr.write(`usage: ${text}\n`)
  process.exit(2)
}

// A pino-shaped logger that drops everything (Baileys only calls these).
export const silentLogger = {
  level: 'silent',
  trace () {},
  debug () {},
  info () {},
  warn () {},
  error () {},
  fatal () {},
  child () { return silentLogger }
}

// The pre-key bundle the server would hand out for a device: what a peer
// needs to open a session with it, from the device's creds and one of its
// pre-keys. `signalPubKey` is the Baileys version's own 0x05 prefixing.
export function preKeyBundle (signalPubKey, creds, preKeyId, preKey) {
  return {
    registrationId: creds.registrationId,
    identityKey: signalPubKey(creds.signedIdentityKey.public),
    signedPreKey: {
      keyId: creds.signedPreKey.keyId,
      publicKey: signalPubKey(creds.signedPreKey.keyPair.public),
      signature: creds.signedPreKey.signature
    },
    preKey: { keyId: preKeyId, publicKey: signalPubKey(preKey.public) }
  }
}
