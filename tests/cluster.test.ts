import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { MessageEvent } from '../shared/client/events.ts'
import { type EngineClient, startEngineClient } from './support/engine.ts'
import { connectTls, connectWebSocket, join, startTestServer } from './support/harness.ts'
import { hasRedis, startRedis } from './support/redis.ts'

// Real servers, a real redis-server and child processes on a shared two-core machine.
setDefaultTimeout(30_000)

const redisMissing = !hasRedis()
if (redisMissing && process.env.CHATBOX_REQUIRE_REDIS === '1') {
  throw new Error('redis-server is not installed; .ci/run installs the Debian package')
}

/** Heartbeats fast enough for a test to see a dead instance within a second or two. */
const FAST = { heartbeatMs: 100, instanceTimeoutMs: 800, leaseMs: 800 }

function texts(member: EngineClient): string[] {
  return member.events
    .filter((event): event is MessageEvent => event.type === 'message')
    .map((event) => `${event.seq} ${event.from}: ${event.text}`)
}

describe.skipIf(redisMissing)('two instances sharing one room through Redis', () => {
  test('members on two instances exchange messages and files, and all see one order', async () => {
    await using redis = await startRedis()
    await using one = await startTestServer({ redis: { url: redis.url, ...FAST } })
    await using two = await startTestServer({ redis: { url: redis.url, ...FAST } })
    await using alice = await startEngineClient(one, 'alice', 'wss')
    await using bob = await startEngineClient(two, 'bob', 'tls')
    await using carol = await startEngineClient(two, 'carol', 'wss')
    await using dave = await startEngineClient(one, 'dave', 'tls')
    const everyone = [alice, bob, carol, dave]
    for (const member of everyone) {
      await member.waitFor('membership', (event) => event.members.length === 4)
    }

    const said: string[] = []
    await Promise.all(
      everyone.map(async (member, index) => {
        for (let round = 0; round < 5; round += 1) {
          const text = `${['alice', 'bob', 'carol', 'dave'][index]} says ${round}`
          said.push(text)
          await member.session.sendText(text)
        }
      }),
    )
    const file = new TextEncoder().encode('minutes\nof the meeting\n')
    await bob.session.sendFile({ name: 'minutes.txt', bytes: file })

    for (const member of everyone) {
      for (const text of said) await member.waitFor('message', (event) => event.text === text)
      const received = await member.waitFor('file')
      expect(received).toMatchObject({ from: 'bob', name: 'minutes.txt', size: file.length })
      expect(received.bytes).toEqual(file)
    }
    // One order: every member saw the same messages under the same sequence numbers.
    const order = texts(alice)
    expect(order).toHaveLength(said.length)
    for (const member of everyone) expect(texts(member)).toEqual(order)
    const codes = await Promise.all(everyone.map((member) => member.session.roomCode()))
    expect(new Set(codes).size).toBe(1)
    // Each instance lists everyone, wherever they are connected.
    expect(
      one.room
        .members()
        .map((member) => member.name)
        .sort(),
    ).toEqual(['alice', 'bob', 'carol', 'dave'])
    expect(
      two.room
        .members()
        .map((member) => member.name)
        .sort(),
    ).toEqual(['alice', 'bob', 'carol', 'dave'])
    expect([one.cluster?.leads(), two.cluster?.leads()].filter(Boolean)).toHaveLength(1)
  })

  test('two commits for the same epoch sent to different instances at once: exactly one wins', async () => {
    await using redis = await startRedis()
    await using one = await startTestServer({ redis: { url: redis.url, ...FAST } })
    await using two = await startTestServer({ redis: { url: redis.url, ...FAST } })
    // Raw protocol clients: the server reads no MLS, so made-up commits test its ordering alone.
    await using alice = await connectWebSocket(one)
    await join(alice, 'alice')
    alice.send({ type: 'key-package', keyPackage: 'QUxJQ0U' })
    await alice.inbox.take('found-request')
    alice.send({ type: 'group-founded', groupId: 'G'.repeat(22) })

    await using bob = await connectTls(two)
    await join(bob, 'bob')
    bob.send({ type: 'key-package', keyPackage: 'Qk9C' })
    const addBob = await alice.inbox.take('commit-request')
    expect(addBob).toMatchObject({ epoch: 0, add: [{ name: 'bob' }] })
    alice.send({
      type: 'commit',
      epoch: 0,
      commit: 'QUREIEJPQg',
      welcome: 'V0VMQ09NRQ',
      adds: ['bob'],
      removes: [],
    })
    await bob.inbox.take('welcome')

    await using carol = await connectWebSocket(two)
    await join(carol, 'carol')
    carol.send({ type: 'key-package', keyPackage: 'Q0FST0w' })
    await alice.inbox.take('commit-request', (frame) => frame.epoch === 1)
    // Both members commit carol's add at epoch 1, alice through one instance, bob through the other.
    alice.send({
      type: 'commit',
      epoch: 1,
      commit: 'RlJPTUFMSUNF',
      welcome: 'V0E',
      adds: ['carol'],
      removes: [],
    })
    bob.send({
      type: 'commit',
      epoch: 1,
      commit: 'RlJPTUJPQg',
      welcome: 'V0I',
      adds: ['carol'],
      removes: [],
    })

    const seen = await Promise.all(
      [alice, bob, carol].map((client) =>
        client.inbox.take('commit', (frame) => frame.epoch === 1),
      ),
    )
    const winner = seen[0]
    expect(
      seen.every((frame) => frame.commit === winner?.commit && frame.seq === winner?.seq),
    ).toBe(true)
    const loser = winner?.from === 'alice' ? bob : alice
    expect(await loser.inbox.take('error')).toMatchObject({ code: 'stale_epoch', fatal: false })
    expect((await carol.inbox.take('welcome')).welcome).toBe(
      winner?.from === 'alice' ? 'V0E' : 'V0I',
    )
    // The room's log holds one commit per epoch, and the shared record moved on once.
    const log = (await one.cluster?.log.readAfter(0, 100)) ?? []
    expect(log.map((entry) => JSON.parse(entry.text).epoch)).toEqual([0, 1])
    expect(await two.cluster?.groups.load()).toMatchObject({
      epoch: 2,
      roster: ['alice', 'bob', 'carol'],
    })
    await Bun.sleep(200)
    // Nobody was sent a second commit for epoch 1.
    const secondCommits = [alice, bob, carol].flatMap((client) =>
      client.inbox.frames.filter((frame) => frame.type === 'commit' && frame.epoch === 1),
    )
    expect(secondCommits).toEqual([])
  })
})
