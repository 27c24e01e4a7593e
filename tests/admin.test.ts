// `bun run admin` as an operator runs it: against `bun run serve` through the control socket while
// it runs, and on the sqlite store once it has stopped, with real clients in a real MLS group.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { statSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { controlSocketPath } from '../apps/server/admin/control-socket.ts'
import { applyCommit, decodeState, decryptMessage } from '../shared/client/mls.ts'
import { keyFingerprint } from '../shared/crypto/fingerprint.ts'
import {
  createIdentityKeyPair as keyPair,
  signWithIdentity,
} from '../shared/crypto/identity-key.ts'
import { decodeBase64url } from '../shared/protocol/base64url.ts'
import { authMessage } from '../shared/protocol/frames.ts'
import { admin, publicKeyOf, row, startServe, tryJoin } from './support/admin.ts'
import { startEngineSession } from './support/engine.ts'
import { connectClient, join, temporaryDirectory } from './support/harness.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(60_000)

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

describe('the way back for a released name', () => {
  test('its new key joins the group once the members accept it, and reads what is sent', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir)
    const options = { reconnect: { initialMs: 100, maxMs: 1000 } }
    await using alice = await startEngineSession(server.web, 'alice', options)
    await using bob = await startEngineSession(server.terminal, 'bob', options)
    const carol = await startEngineSession(server.terminal, 'carol', options)
    await alice.waitFor('membership', (event) => event.members.includes('carol'))
    await bob.waitFor('membership', (event) => event.members.includes('carol'))
    // carol's laptop is gone, key and all: the admin frees her name.
    await carol.session.close()
    expect((await admin(['--data-dir', server.dataDir, 'release', 'carol'])).code).toBe(0)
    await alice.waitFor('membership', (event) => event.removed.includes('carol'))

    // Her new key binds the name; to alice and bob it is a changed key, refused until accepted.
    await using newCarol = await startEngineSession(server.terminal, 'carol', {
      ...options,
      waitForGroup: false,
    })
    for (const member of [alice, bob]) {
      const change = await member.waitFor('key-change', (event) => event.name === 'carol')
      expect(change.newKey).toBe(await publicKeyOf(newCarol))
    }
    // Once they compared safety numbers with her out of band, they accept; she is added.
    await alice.session.acceptKey('carol')
    await bob.session.acceptKey('carol')
    await newCarol.session.whenReady()
    await alice.waitFor('membership', (event) => event.added.includes('carol'))
    await alice.session.sendText('welcome back, carol')
    const read = await newCarol.waitFor('message', (event) => event.text === 'welcome back, carol')
    expect(read.from).toBe('alice')
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
  })
})

describe('bun run admin release, of a member online', () => {
  test('puts it out with the reason released, for it and for the others', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir)
    await using watcher = await connectClient(server.web)
    await join(watcher, 'watcher')
    const options = { reconnect: { initialMs: 100, maxMs: 1000 } }
    await using alice = await startEngineSession(server.web, 'alice', options)
    await using bob = await startEngineSession(server.terminal, 'bob', options)
    await alice.waitFor('membership', (event) => event.members.includes('bob'))

    const released = await admin(['--data-dir', server.dataDir, 'release', 'bob'])
    expect(released.code).toBe(0)
    expect(released.stdout).toContain('its leaf leaves the group with the next commit')
    const leave = await watcher.inbox.take(
      'presence',
      (frame) => frame.event === 'leave' && frame.name === 'bob',
    )
    expect(leave).toMatchObject({ reason: 'released' })
    expect(await bob.waitFor('error', (event) => event.code === 'released')).toMatchObject({
      message: 'the admin gave this name to a new key',
    })
    await watcher.inbox.take('commit', (frame) => frame.removes.includes(bob.session.identityKey))
    await alice.waitFor(
      'presence',
      (event) => event.name === 'bob' && event.event === 'leave' && event.reason === 'released',
    )
    await alice.waitFor('membership', (event) => event.removed.includes('bob'))
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
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
    const removal = await watcher.inbox.take('commit', (frame) =>
      frame.removes.includes(carol.session.identityKey),
    )
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
    // And lifted on the stopped server's store the same way.
    expect((await admin([...args(), 'ban', 'eve'])).code).toBe(0)
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
    expect((await admin([...args(), 'unban', 'eve'])).stdout).toContain('unbanned eve')
    server = await startServe(dir)
    expect(await tryJoin(server.terminal, 'eve', eve)).toMatchObject({ type: 'ready' })
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
  })
})
