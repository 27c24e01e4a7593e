import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createKeyPackage } from '../shared/client/mls.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { decodeBase64url, encodeBase64url } from '../shared/protocol/base64url.ts'
import type { ServerFrame } from '../shared/protocol/frames.ts'
import { type EngineClient, startEngineClient } from './support/engine.ts'
import { startTestServer, type TestServer } from './support/harness.ts'
import { type Relay, startRelay } from './support/relay.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

/** A member whose every frame from the server passes through the relay first. */
function throughRelay(server: TestServer, relay: Relay, name: string, waitForGroup = true) {
  return startEngineClient(server, name, 'tls', {
    waitForGroup,
    connect: tlsTransport({
      hostname: '127.0.0.1',
      port: relay.port,
      ca: server.ca,
      serverName: 'localhost',
    }),
  })
}

function warnings(client: EngineClient, code: string) {
  return client.events.filter((event) => event.type === 'warning' && event.code === code)
}

function messages(client: EngineClient) {
  return client.events.filter((event) => event.type === 'message')
}

describe('a malicious server', () => {
  test('flipped bits in a message make it unreadable and reported, never shown', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using victim = await throughRelay(server, relay, 'victim')
    relay.tamper = (frame) => {
      if (frame.type !== 'app') return [frame]
      const bytes = decodeBase64url(frame.ciphertext)
      bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x01
      return [{ ...frame, ciphertext: encodeBase64url(bytes) }]
    }
    await alice.session.sendText('tampered in transit')
    await victim.waitFor('warning', (event) => event.code === 'undecryptable')
    expect(messages(victim)).toEqual([])
  })

  test('a replayed message is shown once, and what follows still reads', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using victim = await throughRelay(server, relay, 'victim')
    let shift = 0
    relay.tamper = (frame) => {
      if (frame.type !== 'app' && frame.type !== 'commit') return [frame]
      const moved = { ...frame, seq: frame.seq + shift }
      if (frame.type !== 'app' || shift > 0) return [moved]
      shift = 1
      return [moved, { ...moved, seq: moved.seq + 1, at: moved.at + 1 }]
    }
    await alice.session.sendText('say it once')
    await alice.session.sendText('and then this')
    await victim.waitFor('message', (event) => event.text === 'and then this')
    expect(messages(victim).map((event) => event.type === 'message' && event.text)).toEqual([
      'say it once',
      'and then this',
    ])
    // An exact copy of a ciphertext already read is no new content: dropped without a word, as an
    // honest failover's resend of the same ciphertext is (shared/client/seen-ciphertexts.ts).
    expect(warnings(victim, 'undecryptable')).toEqual([])
  })

  test('a forged sender is shown with the sender MLS authenticated and reported', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using victim = await throughRelay(server, relay, 'victim')
    relay.tamper = (frame) => (frame.type === 'app' ? [{ ...frame, from: 'bob' }] : [frame])
    await alice.session.sendText('I am alice')
    const shown = await victim.waitFor('message', (event) => event.text === 'I am alice')
    expect(shown.from).toBe('alice')
    expect(shown.claimedBy).toBe('bob')
    expect(warnings(victim, 'sender_mismatch').length).toBe(1)
    void bob
  })

  test('commits delivered out of order are detected and the member rejoins', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using victim = await throughRelay(server, relay, 'victim')
    let held: Extract<ServerFrame, { type: 'commit' }> | undefined
    let swapped = false
    relay.tamper = (frame) => {
      if (frame.type !== 'commit' || swapped) return [frame]
      if (!held) {
        held = frame
        return []
      }
      // The later commit takes the earlier one's place in the log, and the other way round.
      swapped = true
      return [
        { ...frame, seq: held.seq },
        { ...held, seq: frame.seq },
      ]
    }
    await using carol = await startEngineClient(server, 'carol', 'wss')
    await using dave = await startEngineClient(server, 'dave', 'wss')
    await victim.waitFor('warning', (event) => event.code === 'out_of_sync')
    expect(messages(victim)).toEqual([])
    // It asks to be added afresh, gets in, and reads the room again.
    await victim.waitFor('membership', (event) => event.added.includes('victim') && event.epoch > 2)
    await carol.session.sendText('can you read me now?')
    expect((await victim.waitFor('message')).text).toBe('can you read me now?')
    void dave
    void alice
  })

  test('a KeyPackage swapped for another key under a known name is not added and is reported', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    // The victim founds the group, so it is the committer for everyone after it.
    await using victim = await throughRelay(server, relay, 'victim')
    const bob = await startEngineClient(server, 'bob', 'wss')
    await victim.waitFor('membership', (event) => event.members.includes('bob'))
    await bob.session.leave()
    await victim.waitFor('membership', (event) => event.removed.includes('bob'))

    const impostor = await createIdentityKeyPair()
    const forged = await createKeyPackage({
      name: 'bob',
      signKey: impostor.privateKeyBytes,
      publicKey: impostor.publicKeyBytes,
    })
    relay.tamper = (frame) =>
      frame.type === 'commit-request'
        ? [
            {
              ...frame,
              add: frame.add.map((item) =>
                item.name === 'bob'
                  ? { ...item, keyPackage: encodeBase64url(forged.encoded) }
                  : item,
              ),
            },
          ]
        : [frame]
    // bob comes back with the same identity (and so the same name binding on the server).
    await using bobAgain = await startEngineClient(server, 'bob', 'wss', {
      stores: bob.stores,
      waitForGroup: false,
    })
    const change = await victim.waitFor('key-change')
    expect(change.name).toBe('bob')
    await victim.waitFor('warning', (event) => event.code === 'refused_add')
    const latest = victim.events.filter((event) => event.type === 'membership').at(-1)
    expect(latest?.type === 'membership' && latest.members).toEqual(['victim'])
    await expect(victim.session.sendText('blocked?')).rejects.toThrow('accept it first')
    void bobAgain
  })

  test('a commit whose adds the server misreports is refused, not applied, and the member rejoins', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using victim = await throughRelay(server, relay, 'victim')
    let lied = false
    relay.tamper = (frame) => {
      if (frame.type !== 'commit' || lied || frame.adds.length === 0) return [frame]
      // The server hides whom the commit adds: the victim would not know who reads along.
      lied = true
      return [{ ...frame, adds: [] }]
    }
    await using carol = await startEngineClient(server, 'carol', 'wss')
    const warning = await victim.waitFor('warning', (event) => event.code === 'group_integrity')
    expect(warning.message).toContain('carol')
    // Nothing of that commit was applied: the victim never listed carol before rejoining.
    const before = victim.events.slice(0, victim.events.indexOf(warning))
    expect(
      before.some((event) => event.type === 'membership' && event.members.includes('carol')),
    ).toBe(false)
    await victim.waitFor('membership', (event) => event.members.includes('carol'))
    await carol.session.sendText('seen through the lie')
    expect((await victim.waitFor('message')).text).toBe('seen through the lie')
    void alice
  })

  test('a Welcome whose roster the server misreports is refused', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    await using alice = await startEngineClient(server, 'alice', 'wss')
    let lied = false
    relay.tamper = (frame) => {
      if (frame.type !== 'welcome' || lied) return [frame]
      lied = true
      return [{ ...frame, roster: frame.roster.filter((member) => member.name !== 'alice') }]
    }
    await using victim = await throughRelay(server, relay, 'victim', false)
    const warning = await victim.waitFor('warning', (event) => event.code === 'group_integrity')
    expect(warning.message).toContain('Welcome')
    // alice was blamed for the Welcome and her group ended; both are in the next one.
    const ended = await alice.waitFor('warning', (event) => event.code === 'out_of_sync')
    await alice.waitFor(
      'membership',
      (event) =>
        alice.events.indexOf(event) > alice.events.indexOf(ended) &&
        event.members.includes('victim'),
    )
    await victim.session.whenReady()
    await alice.session.sendText('second time lucky')
    expect((await victim.waitFor('message')).text).toBe('second time lucky')
  })
})
