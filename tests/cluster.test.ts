import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { MessageEvent } from '../shared/client/events.ts'
import { type EngineClient, startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'
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
})
