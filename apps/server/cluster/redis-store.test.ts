import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient } from 'bun'
import { hasRedis, startRedis, type TestRedis } from '../../../tests/support/redis.ts'
import { keepEntries } from '../../../tests/support/retention.ts'
import { ciphertextOf, epochOf, frameOf } from '../../../tests/support/wire.ts'
import type { GroupRecord } from '../room/ports.ts'
import { createRedisStores } from './redis-store.ts'

setDefaultTimeout(30_000)

const redisMissing = !hasRedis()
if (redisMissing && process.env.CHATBOX_REQUIRE_REDIS === '1') {
  throw new Error('redis-server is not installed; .ci/run installs the Debian package')
}

describe.skipIf(redisMissing)('Redis stores shared by two instances', () => {
  let redis: TestRedis
  const clients: RedisClient[] = []

  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    for (const client of clients) client.close()
    await redis[Symbol.asyncDispose]()
  })

  /** Two instances' stores, each over its own connection, on an empty database. */
  async function twoInstances(retention = 100_000) {
    const connections = [new RedisClient(redis.url), new RedisClient(redis.url)]
    clients.push(...connections)
    await connections[0]?.send('FLUSHALL', [])
    return connections.map((connection) => createRedisStores(connection, keepEntries(retention)))
  }

  test('numbers appends from two instances consecutively, once each, as the log holds them', async () => {
    const [one, two] = await twoInstances()
    if (!one || !two) throw new Error('unreachable')
    const appends = []
    for (let index = 0; index < 200; index += 1) {
      const store = index % 2 === 0 ? one : two
      appends.push(
        store.log.append({ type: 'app', from: `member${index}`, at: index, ciphertext: 'AAAA' }),
      )
    }
    const entries = await Promise.all(appends)
    expect(entries.map((entry) => entry.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, index) => index + 1),
    )
    for (const entry of entries) {
      expect(frameOf(entry.wire)).toMatchObject({ type: 'app', seq: entry.seq })
    }
    expect(await two.log.readAfter(0, 1000)).toEqual([...entries].sort((a, b) => a.seq - b.seq))
    expect(await one.log.head()).toBe(200)
    expect(await one.log.oldest()).toBe(1)
  })

  test('lets exactly one of two racing commits win each epoch, atomically with its log entry', async () => {
    const [one, two] = await twoInstances()
    if (!one || !two) throw new Error('unreachable')
    const founded = { groupId: 'G'.repeat(22), epoch: 0, roster: ['alice', 'bob'], state: 'UzA' }
    expect(await one.groups.found(founded)).toBe(true)
    expect(await two.groups.found({ ...founded, groupId: 'H'.repeat(22) })).toBe(false)

    let group: GroupRecord = founded
    for (let round = 0; round < 50; round += 1) {
      const next = { ...group, epoch: group.epoch + 1, state: `S${round}` }
      const commit = (from: string) => ({
        type: 'commit' as const,
        from,
        at: round,
        epoch: group.epoch,
        commit: from === 'alice' ? 'AAAA' : 'BBBB',
        adds: [],
        removes: [],
      })
      const results = await Promise.all([
        one.groups.acceptCommit(
          group,
          { ...next, roster: ['alice', 'bob', `carol${round}`] },
          commit('alice'),
        ),
        two.groups.acceptCommit(
          group,
          { ...next, roster: ['alice', 'bob', `dave${round}`] },
          commit('bob'),
        ),
      ])
      const winners = results.filter((result) => result !== 'stale')
      expect(winners).toHaveLength(1)
      const stored = await one.groups.load()
      // Names as the server binds them (3 or more characters): a stored roster is checked.
      const winner = results[0] === 'stale' ? 'dave' : 'carol'
      expect(stored).toEqual({ ...next, roster: ['alice', 'bob', `${winner}${round}`] })
      group = stored ?? group
    }
    const log = await one.log.readAfter(0, 1000)
    expect(log).toHaveLength(50)
    expect(log.map((entry) => epochOf(entry.wire))).toEqual(
      Array.from({ length: 50 }, (_, index) => index),
    )
    // A commit made at an epoch already passed is refused and logs nothing.
    const late = {
      type: 'commit' as const,
      from: 'bob',
      at: 1,
      epoch: 3,
      commit: 'CCCC',
      adds: [],
      removes: [],
    }
    expect(
      await two.groups.acceptCommit({ ...founded, epoch: 3 }, { ...founded, epoch: 4 }, late),
    ).toBe('stale')
    expect(await one.log.head()).toBe(50)
  })

  test('binds a name to the first key that claims it on any instance, case-insensitively', async () => {
    const [one, two] = await twoInstances()
    if (!one || !two) throw new Error('unreachable')
    const claims = await Promise.all([
      one.identities.claim('Alice', 'key-one', 1),
      two.identities.claim('alice', 'key-two', 1),
    ])
    const owner = claims[0] === 'new' ? 'key-one' : 'key-two'
    expect([...claims].sort()).toEqual(['conflict', 'new'])
    expect(await two.identities.claim('ALICE', owner, 2)).toBe('known')
  })

  test('keeps at least the retention, and says where the log now starts', async () => {
    const [one] = await twoInstances(100)
    if (!one) throw new Error('unreachable')
    const entries = await Promise.all(
      Array.from({ length: 1000 }, (_, index) =>
        one.log.append({ type: 'app', from: 'alice', at: index, ciphertext: 'AAAA' }),
      ),
    )
    expect(entries.at(-1)?.seq).toBe(1000)
    const oldest = await one.log.oldest()
    expect(oldest).toBeGreaterThan(1)
    expect(oldest).toBeLessThanOrEqual(901)
    const kept = await one.log.readAfter(oldest - 1, 2000)
    expect(kept[0]?.seq).toBe(oldest)
    expect(kept.at(-1)?.seq).toBe(1000)
  })

  test('refuses appends at once while Redis is away, and numbers on without a gap once it is back', async () => {
    const connection = new RedisClient(redis.url, { enableOfflineQueue: false, maxRetries: 1000 })
    clients.push(connection)
    await connection.connect()
    await connection.send('FLUSHALL', [])
    const store = createRedisStores(connection, keepEntries(1000))
    expect(
      (await store.log.append({ type: 'app', from: 'alice', at: 1, ciphertext: 'AAAA' })).seq,
    ).toBe(1)
    await redis.kill()
    await Bun.sleep(100)
    expect(
      store.log.append({ type: 'app', from: 'alice', at: 2, ciphertext: 'BBBB' }),
    ).rejects.toThrow()
    await redis.start()
    const deadline = performance.now() + 15_000
    while (!connection.connected && performance.now() < deadline) await Bun.sleep(50)
    const after = await store.log.append({ type: 'app', from: 'alice', at: 3, ciphertext: 'CCCC' })
    expect(after.seq).toBe(2)
    expect((await store.log.readAfter(0, 10)).map((entry) => ciphertextOf(entry.wire))).toEqual([
      'AAAA',
      'CCCC',
    ])
  })

  test('ends a group record stored before commits were checked, which has no public state', async () => {
    const [one] = await twoInstances()
    if (!one) throw new Error('unreachable')
    const legacy = { groupId: 'G'.repeat(22), epoch: 7, roster: ['alice', 'bob'] }
    await clients.at(-1)?.send('SET', ['chatbox:group', JSON.stringify(legacy)])
    expect(await one.groups.load()).toBeNull()
    const founded = { groupId: 'H'.repeat(22), epoch: 0, roster: ['carol'], state: 'UzA' }
    expect(await one.groups.found(founded)).toBe(true)
    expect(await one.groups.load()).toEqual(founded)
  })
})
