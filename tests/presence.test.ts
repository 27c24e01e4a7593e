import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createIdentityKeyPair, signWithIdentity } from '../shared/crypto/identity-key.ts'
import { authMessage } from '../shared/protocol/frames.ts'
import { startEngineClient } from './support/engine.ts'
import { connectTls, connectWebSocket, join, startTestServer } from './support/harness.ts'
import { spawnMember } from './support/member-process.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('presence', () => {
  for (const transport of ['wss', 'tls'] as const) {
    test(`killing a ${transport} member's process makes the others see it leave`, async () => {
      await using server = await startTestServer()
      await using watcher = await connectWebSocket(server)
      await join(watcher, 'watcher')
      const member = await spawnMember(server, transport, 'doomed')
      await watcher.inbox.take(
        'presence',
        (frame) => frame.event === 'join' && frame.name === 'doomed',
      )
      member.kill('SIGKILL')
      const leave = await watcher.inbox.take('presence', (frame) => frame.event === 'leave')
      expect(leave).toMatchObject({ name: 'doomed', event: 'leave', reason: 'disconnect' })
      expect(server.room.members().map((m) => m.name)).toEqual(['watcher'])
    })
  }

  test('a member who leaves is announced with reason quit and its name is free for its key', async () => {
    await using server = await startTestServer()
    await using alice = await connectTls(server)
    await using bob = await connectWebSocket(server)
    const { identity } = await join(alice, 'alice')
    await join(bob, 'bob')
    alice.send({ type: 'leave' })
    expect(await bob.inbox.take('presence', (frame) => frame.event === 'leave')).toMatchObject({
      name: 'alice',
      reason: 'quit',
    })
    await alice.closed
    await using again = await connectWebSocket(server)
    const { ready } = await join(again, 'Alice', identity)
    expect(ready.name).toBe('Alice')
    // Another key proving itself under any spelling of the name is turned away.
    await using impostor = await connectTls(server)
    const impostorKey = await createIdentityKeyPair()
    impostor.send({ type: 'hello', name: 'ALICE', identityKey: impostorKey.publicKeyText })
    const { nonce } = await impostor.inbox.take('challenge')
    const signature = await signWithIdentity(impostorKey, authMessage(nonce, 'ALICE'))
    impostor.send({ type: 'auth', signature })
    expect(await impostor.inbox.take('error')).toMatchObject({ code: 'name_taken', fatal: false })
    expect(
      server.room
        .members()
        .map((member) => member.name)
        .sort(),
    ).toEqual(['Alice', 'bob'])
  })
})

describe('a large room', () => {
  test('a newcomer gets the first page and the count, and the rest only when it asks', async () => {
    await using server = await startTestServer({ limits: { membersPage: 2 } })
    const early = []
    for (const name of ['alice', 'bob', 'carol']) {
      const client = await connectWebSocket(server)
      early.push(client)
      await join(client, name)
    }
    try {
      await using dave = await startEngineClient(server, 'dave', 'tls', { waitForGroup: false })
      expect(dave.session.onlineCount()).toBe(4)
      expect(dave.session.allMembersListed()).toBe(false)
      const listed = async () =>
        (await dave.session.members()).filter((member) => member.online).map((m) => m.name)
      expect(await listed()).toEqual(['alice', 'bob'])
      await dave.session.loadAllMembers()
      expect(dave.session.allMembersListed()).toBe(true)
      expect((await listed()).sort()).toEqual(['alice', 'bob', 'carol', 'dave'])
      // Larger than a page, the room tells nobody each leave: the count follows within a second,
      // and the list is asked for again from the start.
      early[0]?.close()
      const deadline = Date.now() + 5000
      while (dave.session.onlineCount() !== 3 && Date.now() < deadline) await Bun.sleep(20)
      expect(dave.session.onlineCount()).toBe(3)
      expect(dave.events.some((event) => event.type === 'presence')).toBe(false)
      expect(dave.session.allMembersListed()).toBe(false)
      await dave.session.loadAllMembers()
      expect((await listed()).sort()).toEqual(['bob', 'carol', 'dave'])
      // Back to a page's size, joins and leaves are told again.
      early[1]?.close()
      await dave.waitFor('presence', (event) => event.event === 'leave' && event.name === 'bob')
    } finally {
      for (const client of early) client.close()
    }
  })
})
