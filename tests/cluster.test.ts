import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import type { MessageEvent } from '../shared/client/events.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import type { ConnectTransport } from '../shared/client/transport.ts'
import { webSocketTransport } from '../shared/client/websocket-transport.ts'
import { type EngineClient, startEngineClient, startEngineSession } from './support/engine.ts'
import { connectClient, join, startTestServer, temporaryDirectory } from './support/harness.ts'
import { startHostileMember } from './support/hostile-member.ts'
import { hasRedis, startRedis } from './support/redis.ts'
import { freePort, type ServeProcess, serve } from './support/serve-process.ts'
import { epochOf } from './support/wire.ts'

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
  test('a lone founder on either instance has its first message logged, not refused as from outside the group', async () => {
    for (const where of ['leader', 'follower'] as const) {
      await using redis = await startRedis()
      await using one = await startTestServer({ redis: { url: redis.url, ...FAST } })
      await using two = await startTestServer({ redis: { url: redis.url, ...FAST } })
      const leads = one.cluster?.leads() === true
      const server = (where === 'leader') === leads ? one : two
      // The group reaches the other instance through Redis a moment after the founder sends.
      await using alice = await startEngineClient(server, 'alice', 'tls')
      await alice.session.sendText(`first words, on the ${where}`)
      await alice.session.settled()
      const refusals = alice.events.filter((event) => event.type === 'error')
      expect(refusals).toEqual([])
    }
  })

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
    // The default lease: no failover is wanted here, and a loaded machine must not cause one.
    await using one = await startTestServer({ redis: { url: redis.url } })
    await using two = await startTestServer({ redis: { url: redis.url } })
    // Members that speak the protocol frame by frame, with real MLS, so both can commit at once.
    await using alice = await startHostileMember(one, 'alice', 'wss')
    await alice.found()
    await using bob = await startHostileMember(two, 'bob', 'tls')
    const bobJoins = bob.joinGroup()
    await alice.commitHonestly()
    await bobJoins

    await using carol = await startHostileMember(two, 'carol', 'wss')
    const carolKeyPackage = await carol.mls.keyPackage()
    carol.client.send({ type: 'key-package', keyPackage: carolKeyPackage })
    const request = await alice.nextRequest()
    expect(request).toMatchObject({ epoch: 1, add: [{ name: 'carol' }] })
    // Both commit carol's add at epoch 1, alice through one instance, bob through the other.
    const [byAlice, byBob] = await Promise.all([
      alice.mls.commit({ add: [carolKeyPackage] }),
      bob.mls.commit({ add: [carolKeyPackage] }),
    ])
    alice.sendCommit(request, {
      commit: byAlice.commit,
      welcome: byAlice.welcome,
      adds: byAlice.adds,
      removes: [],
    })
    bob.sendCommit(request, {
      commit: byBob.commit,
      welcome: byBob.welcome,
      adds: byBob.adds,
      removes: [],
    })

    const seen = await Promise.all(
      [alice, bob, carol].map((client) =>
        client.client.inbox.take('commit', (frame) => frame.epoch === 1),
      ),
    )
    // The one asked wins; the other is refused and never logged.
    expect(seen.map((frame) => [frame.from, frame.commit, frame.seq])).toEqual(
      Array(3).fill(['alice', byAlice.commit, 2]),
    )
    expect(await bob.client.inbox.take('error')).toMatchObject({
      code: 'unrequested_commit',
      fatal: false,
    })
    expect((await carol.client.inbox.take('welcome')).welcome).toBe(byAlice.welcome as string)
    // The room's log holds one commit per epoch, and the shared record moved on once.
    const log = (await one.cluster?.log.readAfter(0, 100)) ?? []
    expect(log.map((entry) => epochOf(entry.wire))).toEqual([0, 1])
    expect(await two.cluster?.groups.load()).toMatchObject({
      epoch: 2,
      roster: [alice, bob, carol].map((member) => member.mls.binding.identityKey),
    })
    // Nobody was sent a second commit for epoch 1: alice's message after it arrives first.
    alice.client.send({ type: 'app', ciphertext: 'QUZURVI' })
    await Promise.all([bob, carol].map((member) => member.client.inbox.take('app')))
    const secondCommits = [alice, bob, carol].flatMap((member) =>
      member.seen.filter((frame) => frame.type === 'commit' && frame.epoch === 1),
    )
    expect(secondCommits).toHaveLength(3)
  })

  test('one instance is killed: its members reconnect to the other and resume, nothing lost or duplicated', async () => {
    await using redis = await startRedis()
    using certDir = temporaryDirectory('chatbox-cluster-certs-')
    using dataDir = temporaryDirectory('chatbox-cluster-data-')
    const instances: Array<{ process: ServeProcess; webPort: number; termPort: number }> = []
    for (let index = 0; index < 2; index += 1) {
      const webPort = freePort()
      const termPort = freePort()
      const process = serve(
        {
          CHATBOX_REDIS_URL: redis.url,
          CHATBOX_CERT_DIR: certDir,
          CHATBOX_DATA_DIR: joinPath(dataDir, String(index)),
          CHATBOX_WEB_PORT: String(webPort),
          CHATBOX_TERM_PORT: String(termPort),
        },
        [],
        { direct: true },
      )
      // One after the other: the first makes the certificates both serve.
      await process.until('chatbox is running')
      instances.push({ process, webPort, termPort })
    }
    const [doomed, survivor] = instances as [(typeof instances)[0], (typeof instances)[0]]
    try {
      const ca = readFileSync(joinPath(certDir, 'ca.pem'), 'utf8')
      const viaWeb = (port: number) =>
        webSocketTransport({ url: `wss://127.0.0.1:${port}/ws`, tls: { ca } })
      const viaTerminal = (port: number) =>
        tlsTransport({ hostname: '127.0.0.1', port, ca, serverName: 'localhost' })
      // Stands in for a load balancer: a connection goes to the first instance that answers.
      const firstAnswering =
        (...choices: ConnectTransport[]): ConnectTransport =>
        async (handlers) => {
          let last: unknown
          for (const connect of choices) {
            try {
              return await connect(handlers)
            } catch (error) {
              last = error
            }
          }
          throw last
        }
      const reconnect = { initialMs: 100, maxMs: 400 }
      await using alice = await startEngineSession(
        firstAnswering(viaWeb(doomed.webPort), viaWeb(survivor.webPort)),
        'alice',
        { reconnect },
      )
      await using bob = await startEngineSession(
        firstAnswering(viaTerminal(doomed.termPort), viaTerminal(survivor.termPort)),
        'bob',
        { reconnect },
      )
      await using carol = await startEngineSession(
        firstAnswering(viaWeb(survivor.webPort), viaWeb(doomed.webPort)),
        'carol',
        { reconnect },
      )
      const everyone = [alice, bob, carol]
      for (const member of everyone) {
        await member.waitFor('membership', (event) => event.members.length === 3)
      }
      // A member of the doomed instance that will not come back (a raw client that never reconnects).
      await using erin = await connectClient(viaWeb(doomed.webPort))
      await join(erin, 'erin')
      await carol.waitFor('presence', (event) => event.name === 'erin' && event.event === 'join')

      const said: string[] = []
      const talk = (member: EngineClient, from: number, to: number) =>
        (async () => {
          for (let round = from; round < to; round += 1) {
            const text = `${member.session.name} #${round}`
            said.push(text)
            await member.session.sendText(text)
            await Bun.sleep(15)
          }
        })()
      await Promise.all(everyone.map((member) => talk(member, 0, 10)))
      // Killed outright, mid-conversation: no goodbye, no leave, its lease and heartbeat just stop.
      doomed.process.child.kill('SIGKILL')
      await Promise.all(everyone.map((member) => talk(member, 10, 20)))

      for (const member of everyone) {
        for (const text of said) {
          await member.waitFor('message', (event) => event.text === text, 20_000)
        }
      }
      await Bun.sleep(300)
      const order = texts(alice)
      expect(order).toHaveLength(said.length)
      expect(new Set(order.map((line) => line.split(': ')[1])).size).toBe(said.length)
      for (const member of everyone) expect(texts(member)).toEqual(order)
      for (const member of everyone) {
        expect(
          member.events.filter(
            (event) => event.type === 'warning' && event.code !== 'history_unreadable',
          ),
        ).toEqual([])
      }

      // The killed instance's heartbeat stopped: its member that did not come back is seen to leave.
      const left = await carol.waitFor(
        'presence',
        (event) => event.name === 'erin' && event.event === 'leave',
        10_000,
      )
      expect(left.reason).toBe('dropped')
      for (const name of ['alice', 'bob']) {
        expect(
          carol.events.some(
            (event) => event.type === 'presence' && event.name === name && event.event === 'leave',
          ),
        ).toBe(false)
      }

      // alice and bob were on the killed instance and came back through the other one.
      for (const member of [alice, bob]) {
        expect(
          member.events.some((event) => event.type === 'status' && event.status === 'reconnecting'),
        ).toBe(true)
      }

      // The survivor took over the Delivery Service: a newcomer is still added to the group.
      await using dave = await startEngineSession(viaWeb(survivor.webPort), 'dave', { reconnect })
      await dave.waitFor('membership', (event) => event.members.includes('dave'), 15_000)
      await dave.session.sendText('dave made it')
      for (const member of everyone)
        await member.waitFor('message', (event) => event.text === 'dave made it')
    } finally {
      for (const { process } of instances) process.child.kill('SIGKILL')
      await Promise.all(instances.map(({ process }) => process.child.exited))
    }
  })

  test('Redis restarts under load: no acknowledged message is lost, and all see one order', async () => {
    await using redis = await startRedis()
    const timing = { heartbeatMs: 200, instanceTimeoutMs: 2000, leaseMs: 2000 }
    await using one = await startTestServer({ redis: { url: redis.url, ...timing } })
    await using two = await startTestServer({ redis: { url: redis.url, ...timing } })
    await using alice = await startEngineClient(one, 'alice', 'wss')
    await using bob = await startEngineClient(two, 'bob', 'tls')
    await using carol = await startEngineClient(two, 'carol', 'wss')
    const everyone = [alice, bob, carol]
    for (const member of everyone) {
      await member.waitFor('membership', (event) => event.members.length === 3)
    }

    const talking = everyone.map(async (member) => {
      for (let round = 0; round < 60; round += 1) {
        await member.session.sendText(`${member.session.name} #${round}`)
        await Bun.sleep(10)
      }
    })
    await Bun.sleep(150)
    // Killed outright mid-load: only what it fsynced (everything it acknowledged) survives.
    await redis.kill()
    await Bun.sleep(400)
    await redis.start()
    await Promise.all(talking)

    // A last message, sent once Redis is back: the log is ordered, so a member that has it has
    // everything logged before it, and nothing sent above is still on its way.
    await alice.session.sendText('the end')
    for (const member of everyone) {
      await member.waitFor('message', (event) => event.text === 'the end', 20_000)
    }
    // Acknowledged: the server logged it and the sender got it back with its sequence number.
    const acknowledged = (member: EngineClient) =>
      member.events.filter((event): event is MessageEvent => event.type === 'message' && event.own)
    const refusals = everyone.flatMap((member) =>
      member.events.filter((event) => event.type === 'error' && event.code === 'unavailable'),
    )
    expect(refusals.length).toBeGreaterThan(0)
    const acked = everyone.flatMap(acknowledged)
    expect(acked.length).toBeGreaterThan(30)
    for (const member of everyone) {
      for (const message of acked) {
        await member.waitFor(
          'message',
          (event) => event.seq === message.seq && event.text === message.text,
          20_000,
        )
      }
    }
    // Everything anyone saw is in the log, each once, in the order everyone saw it.
    const order = texts(alice)
    for (const member of everyone) expect(texts(member)).toEqual(order)
    expect(new Set(order).size).toBe(order.length)
    const logged = (await one.cluster?.log.readAfter(0, 10_000)) ?? []
    const seqs = logged.map((entry) => entry.seq)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => index + 1))
    for (const message of acked) expect(seqs).toContain(message.seq)
    for (const member of everyone) {
      expect(
        member.events.filter(
          (event) => event.type === 'warning' && event.code !== 'history_unreadable',
        ),
      ).toEqual([])
    }
  })
})
