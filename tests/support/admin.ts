// The operator's side of a test: `bun run serve` in a data directory of its own, `bun run admin`
// against it, and joins made by hand (hello, signed auth) to see what the server answers.
import { readFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { tlsTransport } from '../../shared/client/tls-transport.ts'
import type { ConnectTransport } from '../../shared/client/transport.ts'
import { webSocketTransport } from '../../shared/client/websocket-transport.ts'
import { type IdentityKeyPair, signWithIdentity } from '../../shared/crypto/identity-key.ts'
import { authMessage } from '../../shared/protocol/frames.ts'
import type { EngineClient } from './engine.ts'
import { connectClient } from './harness.ts'
import { freePort, type ServeProcess, serve } from './serve-process.ts'

const ROOT = joinPath(import.meta.dir, '..', '..')

export interface Served {
  readonly process: ServeProcess
  readonly dataDir: string
  readonly webPort: number
  readonly termPort: number
  readonly web: ConnectTransport
  readonly terminal: ConnectTransport
}

export async function startServe(dir: string, env: Record<string, string> = {}): Promise<Served> {
  const webPort = freePort()
  let termPort = freePort()
  while (termPort === webPort) termPort = freePort()
  // The tests' own CA when asked (a test browser trusts only that one), else one made here.
  const certDir = env.CHATBOX_CERT_DIR ?? joinPath(dir, 'certs')
  const dataDir = joinPath(dir, 'data')
  const process = serve({
    CHATBOX_DATA_DIR: dataDir,
    CHATBOX_CERT_DIR: certDir,
    CHATBOX_WEB_PORT: String(webPort),
    CHATBOX_TERM_PORT: String(termPort),
    CHATBOX_LOG_FORMAT: 'json',
    ...env,
  })
  await process.until('"event":"started"')
  const ca = readFileSync(joinPath(certDir, 'ca.pem'), 'utf8')
  return {
    process,
    dataDir,
    webPort,
    termPort,
    web: webSocketTransport({ url: `wss://127.0.0.1:${webPort}/ws`, tls: { ca } }),
    terminal: tlsTransport({ hostname: '127.0.0.1', port: termPort, ca, serverName: 'localhost' }),
  }
}

/** `bun run admin` with these words; its output and exit code. */
export async function admin(args: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn(['bun', 'run', 'admin', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
  return { stdout, stderr, code }
}

export async function publicKeyOf(client: EngineClient): Promise<string> {
  const identity = await client.stores.identity.load()
  if (!identity) throw new Error('the client has no identity')
  return identity.publicKey
}

/** hello and a signed auth with these keys: the first frame that answers the auth. */
export async function tryJoin(
  connect: ConnectTransport,
  name: string,
  keys: IdentityKeyPair,
  invite?: string,
) {
  const client = await connectClient(connect)
  client.send({
    type: 'hello',
    name,
    identityKey: keys.publicKeyText,
    ...(invite === undefined ? {} : { invite }),
  })
  const { nonce } = await client.inbox.take('challenge')
  client.send({ type: 'auth', signature: await signWithIdentity(keys, authMessage(nonce, name)) })
  // Whichever comes first: ready, or the error that refuses the auth.
  const [ready, refused] = [client.inbox.take('ready'), client.inbox.take('error')]
  // The one that does not come times out unheard.
  for (const waiting of [ready, refused]) waiting.catch(() => {})
  const answer = await Promise.race([ready, refused])
  client.close()
  return answer
}

/** The table's row for `name`, split into its columns. */
export function row(table: string, name: string): string[] {
  const line = table.split('\n').find((text) => text.startsWith(`${name} `))
  if (!line) throw new Error(`no row for ${name} in:\n${table}`)
  return line.split(/ {2,}/)
}
