// `bun run admin` as an operator runs it: against `bun run serve` through the control socket while
// it runs, and on the sqlite store once it has stopped, with real clients in a real MLS group.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync, statSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { controlSocketPath } from '../apps/server/admin/control-socket.ts'
import { applyCommit, decodeState, decryptMessage } from '../shared/client/mls.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import type { ConnectTransport } from '../shared/client/transport.ts'
import { webSocketTransport } from '../shared/client/websocket-transport.ts'
import { keyFingerprint } from '../shared/crypto/fingerprint.ts'
import type { IdentityKeyPair } from '../shared/crypto/identity-key.ts'
import {
  createIdentityKeyPair as keyPair,
  signWithIdentity,
} from '../shared/crypto/identity-key.ts'
import { decodeBase64url } from '../shared/protocol/base64url.ts'
import { authMessage } from '../shared/protocol/frames.ts'
import { type EngineClient, startEngineSession } from './support/engine.ts'
import { connectClient, join, temporaryDirectory } from './support/harness.ts'
import { freePort, type ServeProcess, serve } from './support/serve-process.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(60_000)

const ROOT = joinPath(import.meta.dir, '..')

interface Served {
  readonly process: ServeProcess
  readonly dataDir: string
  readonly web: ConnectTransport
  readonly terminal: ConnectTransport
}

async function startServe(dir: string, env: Record<string, string> = {}): Promise<Served> {
  const webPort = freePort()
  let termPort = freePort()
  while (termPort === webPort) termPort = freePort()
  const certDir = joinPath(dir, 'certs')
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
    web: webSocketTransport({ url: `wss://127.0.0.1:${webPort}/ws`, tls: { ca } }),
    terminal: tlsTransport({ hostname: '127.0.0.1', port: termPort, ca, serverName: 'localhost' }),
  }
}

/** `bun run admin` with these words; its output and exit code. */
async function admin(args: string[], env: Record<string, string> = {}) {
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

async function publicKeyOf(client: EngineClient): Promise<string> {
  const identity = await client.stores.identity.load()
  if (!identity) throw new Error('the client has no identity')
  return identity.publicKey
}

/** hello and a signed auth with these keys: the first frame that answers the auth. */
async function tryJoin(connect: ConnectTransport, name: string, keys: IdentityKeyPair) {
  const client = await connectClient(connect)
  client.send({ type: 'hello', name, identityKey: keys.publicKeyText })
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
function row(table: string, name: string): string[] {
  const line = table.split('\n').find((text) => text.startsWith(`${name} `))
  if (!line) throw new Error(`no row for ${name} in:\n${table}`)
  return line.split(/ {2,}/)
}

describe('bun run admin members', () => {
  test('lists names, fingerprints, who is online and in the group, running and stopped', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir)
    const options = { reconnect: { initialMs: 100, maxMs: 1000 } }
    await using alice = await startEngineSession(server.web, 'alice', options)
    await using bob = await startEngineSession(server.terminal, 'bob', options)
    await bob.waitFor('membership', (event) => event.members.includes('alice'))
    await alice.waitFor('membership', (event) => event.members.includes('bob'))
    // carol is online, bound, but never joins the group.
    await using carol = await connectClient(server.terminal)
    const { identity: carolKey } = await join(carol, 'carol')

    // Only the server's user can reach the socket.
    const socket = controlSocketPath(server.dataDir)
    expect(statSync(socket).mode & 0o777).toBe(0o600)
    expect(statSync(joinPath(server.dataDir, 'admin')).mode & 0o777).toBe(0o700)

    const running = await admin(['--data-dir', server.dataDir, 'members'])
    expect(running.stderr).not.toContain('error')
    expect(running.code).toBe(0)
    const aliceFingerprint = await keyFingerprint(await publicKeyOf(alice))
    expect(row(running.stdout, 'alice')).toEqual([
      'alice',
      aliceFingerprint,
      'online',
      'yes',
      'now',
    ])
    expect(row(running.stdout, 'bob').slice(2)).toEqual(['online', 'yes', 'now'])
    expect(row(running.stdout, 'carol').slice(1, 4)).toEqual([
      await keyFingerprint(carolKey.publicKeyText),
      'online',
      'no',
    ])

    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
    // Read from the store itself, by CHATBOX_DATA_DIR this time: nobody online, the group kept.
    const stopped = await admin(['members'], { CHATBOX_DATA_DIR: server.dataDir })
    expect(stopped.code).toBe(0)
    expect(row(stopped.stdout, 'alice').slice(0, 4)).toEqual([
      'alice',
      aliceFingerprint,
      'offline',
      'yes',
    ])
    expect(row(stopped.stdout, 'alice')[4]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/)
    expect(row(stopped.stdout, 'carol').slice(2, 4)).toEqual(['offline', 'no'])
  })

  test('--help names the commands; an unknown command is refused', async () => {
    const help = await admin(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('members')
    const unknown = await admin(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command')
  })
})

describe('bun run admin release', () => {
  test("frees a lost key's name and has its leaf removed, running; frees one on the store, stopped", async () => {
    using dir = temporaryDirectory()
    // A long grace: carol's leaf can only go now because the operator released her name.
    const server = await startServe(dir, { CHATBOX_LEAVE_GRACE_SECONDS: '3600' })
    const options = { reconnect: { initialMs: 100, maxMs: 1000 } }
    await using alice = await startEngineSession(server.web, 'alice', options)
    await using bob = await startEngineSession(server.terminal, 'bob', options)
    const carol = await startEngineSession(server.terminal, 'carol', options)
    await bob.waitFor('membership', (event) => event.members.includes('carol'))
    // carol's device is lost with her key: she is away, and a new key cannot have her name.
    await carol.session.close()
    await using impostor = await connectClient(server.terminal)
    const other = await keyPair()
    impostor.send({ type: 'hello', name: 'carol', identityKey: other.publicKeyText })
    const { nonce } = await impostor.inbox.take('challenge')
    const signature = await signWithIdentity(other, authMessage(nonce, 'carol'))
    impostor.send({ type: 'auth', signature })
    expect((await impostor.inbox.take('error')).code).toBe('name_taken')

    const released = await admin(['--data-dir', server.dataDir, 'release', 'carol'])
    expect(released.code).toBe(0)
    expect(released.stdout).toContain('released carol')
    await bob.waitFor('membership', (event) => !event.members.includes('carol'))
    await alice.waitFor('membership', (event) => !event.members.includes('carol'))
    await server.process.until('"event":"admin","action":"release","name":"carol"')

    // Her new key binds the name. (Members still refuse to add a known name under a new key:
    // taking it into the group is the clients' decision.)
    await using newCarol = await startEngineSession(server.terminal, 'carol', {
      ...options,
      waitForGroup: false,
    })
    const listed = await admin(['--data-dir', server.dataDir, 'members'])
    expect(row(listed.stdout, 'carol').slice(1, 4)).toEqual([
      await keyFingerprint(await publicKeyOf(newCarol)),
      'online',
      'no',
    ])

    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
    const stopped = await admin(['--data-dir', server.dataDir, 'release', 'bob'])
    expect(stopped.code).toBe(0)
    expect(stopped.stdout).toContain('released bob')
    const after = await admin(['--data-dir', server.dataDir, 'members'])
    expect(after.stdout).not.toContain('bob ')
    const again = await admin(['--data-dir', server.dataDir, 'release', 'bob'])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('no key holds the name bob')
  })
})

describe('bun run admin ban and unban', () => {
  test('a banned key is put out, refused at auth, and cannot read what is sent after', async () => {
    using dir = temporaryDirectory()
    let server = await startServe(dir)
    const args = () => ['--data-dir', server.dataDir]
    await using watcher = await connectClient(server.web)
    await join(watcher, 'watcher')
    const options = { reconnect: { initialMs: 100, maxMs: 1000 } }
    await using alice = await startEngineSession(server.web, 'alice', options)
    await using bob = await startEngineSession(server.terminal, 'bob', options)
    const carol = await startEngineSession(server.terminal, 'carol', options)
    await alice.waitFor('membership', (event) => event.members.length === 3)
    await bob.waitFor('membership', (event) => event.members.length === 3)
    const carolBefore = (await carol.stores.group.load())?.state as string
    const bobBefore = (await bob.stores.group.load())?.state as string

    const banned = await admin([...args(), 'ban', 'carol'])
    expect(banned.code).toBe(0)
    expect(banned.stdout).toContain('banned the key of carol')
    const leave = await watcher.inbox.take(
      'presence',
      (frame) => frame.event === 'leave' && frame.name === 'carol',
    )
    expect(leave).toMatchObject({ reason: 'banned' })
    await server.process.until('"event":"admin","action":"ban","name":"carol"')
    const removal = await watcher.inbox.take('commit', (frame) => frame.removes.includes('carol'))
    await alice.waitFor('membership', (event) => event.removed.includes('carol'))
    await alice.session.sendText('after carol was banned')
    const sent = await watcher.inbox.take('app')
    const ciphertext = decodeBase64url(sent.ciphertext)
    await expect(
      decryptMessage(decodeState(decodeBase64url(carolBefore)), ciphertext),
    ).rejects.toThrow()
    const carolAfter = await applyCommit(
      decodeState(decodeBase64url(carolBefore)),
      decodeBase64url(removal.commit),
    ).then(
      (effect) => effect.state,
      () => undefined,
    )
    if (carolAfter) await expect(decryptMessage(carolAfter, ciphertext)).rejects.toThrow()
    // The same steps read it for a member who stayed: the test can tell reading from not.
    const bobState = (
      await applyCommit(decodeState(decodeBase64url(bobBefore)), decodeBase64url(removal.commit))
    ).state
    expect((await decryptMessage(bobState, ciphertext)).sender.name).toBe('alice')
    await carol.session.close()

    // Refused at auth while banned, under its name or any other; let in again once unbanned.
    const eve = await keyPair()
    expect(await tryJoin(server.terminal, 'eve', eve)).toMatchObject({ type: 'ready' })
    expect((await admin([...args(), 'ban', 'eve'])).code).toBe(0)
    expect(await tryJoin(server.terminal, 'eve', eve)).toMatchObject({
      type: 'error',
      code: 'banned',
      fatal: true,
    })
    expect(await tryJoin(server.web, 'eve2', eve)).toMatchObject({ code: 'banned' })
    expect((await admin([...args(), 'unban', 'eve'])).stdout).toContain('unbanned eve')
    expect(await tryJoin(server.terminal, 'eve', eve)).toMatchObject({ type: 'ready' })

    // Stopped: the ban is written to the store and holds once the server is back.
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
    expect((await admin([...args(), 'ban', 'eve'])).code).toBe(0)
    server = await startServe(dir)
    expect(await tryJoin(server.terminal, 'eve', eve)).toMatchObject({ code: 'banned' })
    expect((await admin([...args(), 'unban', 'eve'])).code).toBe(0)
    expect(await tryJoin(server.terminal, 'eve', eve)).toMatchObject({ type: 'ready' })
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
  })
})
