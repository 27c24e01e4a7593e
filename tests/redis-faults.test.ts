import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { RedisClient } from 'bun'
import { generateCertificates } from '../apps/server/certs.ts'
import { KEYS } from '../apps/server/cluster/keys.ts'
import { openRedisCluster } from '../apps/server/cluster/redis-cluster.ts'
import { createRedisStores } from '../apps/server/cluster/redis-store.ts'
import { createReplicaWaiter, STARTUP_READ_TRIES } from '../apps/server/cluster/replication.ts'
import { query, StreamEntriesReply } from '../apps/server/cluster/replies.ts'
import type { ChatEvent, MessageEvent } from '../shared/client/events.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { type EngineClient, startEngineClient } from './support/engine.ts'
import { connectWebSocket, join, startTestServer, temporaryDirectory } from './support/harness.ts'
import {
  hasRedis,
  type RedisPair,
  startRedis,
  startRedisPair,
  type TestRedis,
} from './support/redis.ts'
import { keepEntries } from './support/retention.ts'
import { freePort, serve } from './support/serve-process.ts'

// Real redis-servers (one behind TLS, a primary with its replica), real instances and clients.
setDefaultTimeout(60_000)

const redisMissing = !hasRedis()
if (redisMissing && process.env.CHATBOX_REQUIRE_REDIS === '1') {
  throw new Error('redis-server is not installed; .ci/run installs the Debian package')
}

interface Authority {
  readonly dir: string
  /** The CA certificate, PEM. */
  readonly ca: string
  readonly paths: Awaited<ReturnType<typeof generateCertificates>>
}

/** A CA and a server certificate for localhost and 127.0.0.1 it signed, made now, never committed. */
async function makeAuthority(): Promise<Authority & Disposable> {
  const dir = temporaryDirectory('chatbox-redis-tls-')
  const paths = await generateCertificates({ dir })
  return Object.assign(
    { dir, ca: readFileSync(paths.caCert, 'utf8'), paths },
    { [Symbol.dispose]: () => dir[Symbol.dispose]() },
  )
}

describe.skipIf(redisMissing)('Redis over TLS (rediss://)', () => {
  let right: Authority & Disposable
  let wrong: Authority & Disposable
  let redis: TestRedis
  const limits = createLimits()

  beforeAll(async () => {
    right = await makeAuthority()
    wrong = await makeAuthority()
    redis = await startRedis({
      tls: { cert: right.paths.serverCert, key: right.paths.serverKey, ca: right.paths.caCert },
      // 127.0.0.2 reaches the same server under an address its certificate does not name.
      bind: ['127.0.0.1', '127.0.0.2'],
    })
  })
  afterAll(async () => {
    await redis[Symbol.asyncDispose]()
    right[Symbol.dispose]()
    wrong[Symbol.dispose]()
  })

  test('an instance checks Redis against the CA it is given, and the room lives there', async () => {
    expect(redis.url).toStartWith('rediss://')
    await using server = await startTestServer({ redis: { url: redis.url, ca: right.ca } })
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await alice.waitFor('membership', (event) => event.members.length === 2)
    await alice.session.sendText('over TLS to Redis')
    const sent = await bob.waitFor('message', (event) => event.text === 'over TLS to Redis')
    const reader = new RedisClient(redis.url, { tls: { ca: right.ca } })
    try {
      const entries = await query(reader, StreamEntriesReply, 'XRANGE', [KEYS.log, '-', '+'])
      expect(entries.map(([id]) => id)).toContain(`${sent.seq}-0`)
    } finally {
      reader.close()
    }
  })

  test('a certificate the CA did not sign, or one for another name, stops the instance with the reason', async () => {
    const open = (url: string, ca?: string) => openRedisCluster({ url, ca, limits })
    // Signed by another CA: refused, never retried without the check.
    await expect(open(redis.url, wrong.ca)).rejects.toThrow(
      /Redis's TLS certificate is not trusted: self.signed certificate in certificate chain/,
    )
    // No CA given: the system's CAs are used, and they do not know this one either.
    await expect(open(redis.url)).rejects.toThrow(/Redis's TLS certificate is not trusted/)
    // The right CA, but the certificate does not name the address connected to.
    const elsewhere = redis.url.replace('127.0.0.1', '127.0.0.2')
    await expect(open(elsewhere, right.ca)).rejects.toThrow(
      /Redis's TLS certificate is not trusted: .*127\.0\.0\.2/,
    )
  })

  test('bun run serve takes the CA from CHATBOX_REDIS_CA and stops with one line when it is wrong', async () => {
    using data = temporaryDirectory('chatbox-redis-tls-serve-')
    const env = (ca: string) => ({
      CHATBOX_REDIS_URL: redis.url,
      CHATBOX_REDIS_CA: ca,
      CHATBOX_CERT_DIR: joinPath(data, 'certs'),
      CHATBOX_DATA_DIR: joinPath(data, 'data'),
      CHATBOX_WEB_PORT: String(freePort()),
      CHATBOX_TERM_PORT: String(freePort()),
    })
    const refused = await serve(env(wrong.paths.caCert)).exit()
    expect(refused.code).toBe(1)
    expect(refused.output).toContain("Redis's TLS certificate is not trusted")
    expect(refused.output).toContain('CHATBOX_REDIS_CA')
    expect(refused.output).not.toContain('    at ')

    const plain = await serve({
      ...env(right.paths.caCert),
      CHATBOX_REDIS_URL: 'redis://127.0.0.1:1',
    }).exit()
    expect(plain.code).toBe(2)
    expect(plain.output).toContain('CHATBOX_REDIS_CA (--redis-ca) needs a rediss:// URL')

    const running = serve(env(right.paths.caCert), [], { direct: true })
    try {
      const output = await running.until('chatbox is running')
      expect(output).toContain(`shared through:   Redis at ${redis.url}`)
    } finally {
      running.child.kill('SIGTERM')
      await running.child.exited
    }
  })
})

/** Own messages the server acknowledged: logged, and handed back to the sender with their number. */
function acknowledged(member: EngineClient): MessageEvent[] {
  return member.events.filter(
    (event): event is MessageEvent => event.type === 'message' && event.own,
  )
}

/** The sequence numbers a Redis holds in the room's log. */
async function loggedSeqs(url: string): Promise<Set<number>> {
  const client = new RedisClient(url)
  try {
    const entries = await query(client, StreamEntriesReply, 'XRANGE', [KEYS.log, '-', '+'])
    return new Set(entries.map(([id]) => Number(id.split('-')[0])))
  } finally {
    client.close()
  }
}

/** Waits until `count` events of a type match. */
async function nth<T extends 'message' | 'error'>(
  member: EngineClient,
  type: T,
  count: number,
  where: (event: Extract<ChatEvent, { type: T }>) => boolean,
): Promise<void> {
  const matching = () =>
    member.events.filter(
      (event): event is Extract<ChatEvent, { type: T }> =>
        event.type === type && where(event as Extract<ChatEvent, { type: T }>),
    ).length
  await member.waitFor(type, () => matching() >= count, 20_000)
}

interface FailoverRun {
  readonly pair: RedisPair
  readonly members: EngineClient[]
  /** Acknowledged before the failover. */
  readonly acknowledged: MessageEvent[]
  /** Of those, the ones the promoted replica does not hold. */
  readonly lost: MessageEvent[]
}

/**
 * Two instances, a member on each; they talk, the replication link stalls, they talk on, and the
 * primary dies before the replica hears the rest: the replica is promoted and the instances'
 * address follows it. `stalled` says what the members must see of what they said meanwhile.
 */
async function failoverUnderTalk(
  waitReplicas: number,
  stalled: 'acknowledged' | 'refused',
  after: (run: FailoverRun) => Promise<void>,
): Promise<void> {
  await using pair = await startRedisPair()
  const redis = { url: pair.url, waitReplicas, waitTimeoutMs: 300 }
  await using one = await startTestServer({ redis })
  await using two = await startTestServer({ redis })
  await using alice = await startEngineClient(one, 'alice', 'wss')
  await using bob = await startEngineClient(two, 'bob', 'tls')
  const members = [alice, bob]
  for (const member of members) {
    await member.waitFor('membership', (event) => event.members.length === 2)
  }
  const ROUNDS = 5
  const talk = (phase: string) =>
    Promise.all(
      members.map(async (member) => {
        for (let round = 0; round < ROUNDS; round += 1) {
          await member.session.sendText(`${member.session.name} ${phase} ${round}`)
        }
      }),
    )

  await talk('before')
  for (const member of members) {
    await nth(member, 'message', 2 * ROUNDS, (event) => event.text.includes(' before '))
  }
  // Without the wait, an acknowledgement says nothing of the replica: the link is stalled only
  // once it has what was said before, or that could die with the primary too (one CI run).
  await pair.replicated()

  pair.link.hold()
  await talk('during')
  for (const member of members) {
    if (stalled === 'acknowledged') {
      await nth(member, 'message', ROUNDS, (event) => event.own && event.text.includes(' during '))
    } else {
      await nth(member, 'error', ROUNDS, (event) => event.code === 'unavailable')
    }
  }

  await pair.failover()
  const held = await loggedSeqs(pair.replica.url)
  const acked = members.flatMap(acknowledged)
  await after({
    pair,
    members,
    acknowledged: acked,
    lost: acked.filter((message) => !held.has(message.seq)),
  })
}

describe.skipIf(redisMissing)('a Redis primary fails over to its replica', () => {
  test('an append the replicas have not confirmed within the wait is refused, not acknowledged', async () => {
    await using pair = await startRedisPair()
    const client = new RedisClient(pair.url)
    try {
      await client.connect()
      // Long enough for a replica just started on a loaded machine to confirm the first writes
      // (200 ms once was not, in a clean-clone CI run); a held link still never confirms.
      const replicas = createReplicaWaiter(client, { replicas: 1, timeoutMs: 2000 })
      const stores = createRedisStores(client, keepEntries(100_000), replicas)
      const message = { type: 'app' as const, from: 'alice', at: 1, ciphertext: 'AAAA' }
      expect((await stores.log.append(message)).seq).toBe(1)
      const founded = { groupId: 'G'.repeat(22), epoch: 0, roster: ['alice'], state: 'UzA' }
      expect(await stores.groups.found(founded)).toBe(true)

      pair.link.hold()
      await expect(stores.log.append(message)).rejects.toMatchObject({
        code: 'ERR_REDIS_NOT_REPLICATED',
      })
      const commit = {
        type: 'commit' as const,
        from: 'alice',
        at: 2,
        epoch: 0,
        commit: 'AAAA',
        adds: [],
        removes: [],
      }
      await expect(
        stores.groups.acceptCommit(founded, { ...founded, epoch: 1 }, commit),
      ).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' })
    } finally {
      client.close()
    }
  })

  test('an instance does not start on a log its replicas do not hold', async () => {
    await using pair = await startRedisPair()
    const slow: unknown[] = []
    pair.link.hold()
    const client = new RedisClient(pair.url)
    try {
      await client.send('SET', ['chatbox:head', '7'])
    } finally {
      client.close()
    }
    const opening = openRedisCluster({
      url: pair.url,
      limits: createLimits(),
      waitReplicas: 1,
      waitTimeoutMs: 200,
      reportError: (error) => slow.push(error),
    })
    await expect(opening).rejects.toThrow(/Redis's replicas do not hold its log: 0 of 1/)
    expect(slow).toHaveLength(STARTUP_READ_TRIES - 1)
  })

  test('an instance starts once a replica slow to confirm at first does confirm the log', async () => {
    await using pair = await startRedisPair()
    pair.link.hold()
    const slow = Promise.withResolvers<unknown>()
    const opening = openRedisCluster({
      url: pair.url,
      limits: createLimits(),
      waitReplicas: 1,
      waitTimeoutMs: 200,
      reportError: slow.resolve,
    })
    // The first wait timed out: the link recovers before the next.
    expect(String(await slow.promise)).toMatch(/slow to confirm its log, trying again: 0 of 1/)
    pair.link.release()
    const cluster = await opening
    await cluster.close()
  })

  test('with CHATBOX_REDIS_WAIT_REPLICAS=1 nothing acknowledged is lost, and the room goes on on the new primary', async () => {
    await failoverUnderTalk(1, 'refused', async ({ pair, members, acknowledged, lost }) => {
      expect(acknowledged).toHaveLength(10)
      expect(lost).toEqual([])
      // The promoted primary has no replica yet, so nothing can be confirmed: a new one joins it.
      await pair.addReplica()
      // The instances reconnect to the address, which now reaches the promoted replica. A member
      // sending before its instance is back is told `unavailable`, and tries again.
      const [alice, bob] = members as [EngineClient, EngineClient]
      let said = ''
      for (let attempt = 0; said === ''; attempt += 1) {
        const text = `after the failover ${attempt}`
        const errors = bob.events.filter((event) => event.type === 'error').length
        await bob.session.sendText(text)
        const answer = await Promise.race([
          bob.waitFor('message', (event) => event.text === text, 20_000).then(() => 'logged'),
          bob
            .waitFor('error', () => bob.events.filter((e) => e.type === 'error').length > errors)
            .then(() => 'refused'),
        ])
        if (answer === 'logged') said = text
        expect(attempt).toBeLessThan(40)
      }
      const seen = await alice.waitFor('message', (event) => event.text === said, 20_000)
      const own = bob.events.find((event) => event.type === 'message' && event.text === said)
      expect(own).toMatchObject({ seq: seen.seq, own: true })
    })
  })

  test('a member resuming while the replica lags is not sent what the replica has not confirmed', async () => {
    await using pair = await startRedisPair()
    const redis = { url: pair.url, waitReplicas: 1, waitTimeoutMs: 300 }
    await using server = await startTestServer({ redis })
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await alice.waitFor('membership', (event) => event.members.length === 2)
    await alice.session.sendText('confirmed')
    const confirmed = await bob.waitFor('message', (event) => event.text === 'confirmed')
    pair.link.hold()
    await alice.session.sendText('not confirmed')
    await alice.waitFor('error', (event) => event.code === 'unavailable')

    await using carol = await connectWebSocket(server)
    const { ready } = await join(carol, 'carol')
    expect(ready.head).toBe(confirmed.seq)
    // The primary holds one entry more than that, which its replica has not confirmed.
    carol.send({ type: 'resume', afterSeq: ready.head })
    await carol.inbox.take('error', (frame) => frame.code === 'unavailable', 10_000)
    expect(carol.inbox.frames.filter((frame) => frame.type === 'app')).toEqual([])
  })

  test('while the replica is away, each refusal costs one wait, and the instance is not taken for dead', async () => {
    await using pair = await startRedisPair()
    // Other instances take one for dead after 3 s without a heartbeat; a wait holds them up.
    const redis = { url: pair.url, waitReplicas: 1, waitTimeoutMs: 1000 }
    await using one = await startTestServer({ redis })
    await using two = await startTestServer({ redis })
    await using alice = await startEngineClient(one, 'alice', 'wss')
    await using bob = await startEngineClient(two, 'bob', 'tls')
    await alice.waitFor('membership', (event) => event.members.length === 2)
    pair.link.hold()
    const MESSAGES = 30
    for (let index = 0; index < MESSAGES; index += 1) {
      await alice.session.sendText(`while the replica is away ${index}`)
    }
    // One wait after another, each for every message sent so far, not one per message.
    await nth(alice, 'error', MESSAGES, (event) => event.code === 'unavailable')
    const leaves = bob.events.filter(
      (event) => event.type === 'presence' && event.event === 'leave',
    )
    expect(leaves).toEqual([])
    expect(acknowledged(alice)).toEqual([])
  })

  test('without the wait, the same failover loses acknowledged messages', async () => {
    await failoverUnderTalk(0, 'acknowledged', async ({ acknowledged, lost }) => {
      expect(acknowledged).toHaveLength(20)
      // Everything acknowledged while the link was stalled died with the primary.
      expect(lost.map((message) => message.text).sort()).toEqual(
        ['alice', 'bob'].flatMap((name) =>
          [0, 1, 2, 3, 4].map((round) => `${name} during ${round}`),
        ),
      )
    })
  })
})
