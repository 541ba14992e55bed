// What every harness script shares and that needs no Baileys: stdout kept
// for the one JSON result, errors to stderr with an exit status.

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
