import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient } from 'bun'
import { hasRedis, startRedis, type TestRedis } from '../../../tests/support/redis.ts'
import { KEYS } from './keys.ts'
import { createRedisIdentities } from './redis-identities.ts'

setDefaultTimeout(30_000)

const KEY_A = 'A'.repeat(43)
const KEY_B = 'B'.repeat(43)
const KEY_C = 'C'.repeat(43)
const YEAR = 365 * 86_400_000

const redisMissing = !hasRedis()
if (redisMissing && process.env.CHATBOX_REQUIRE_REDIS === '1') {
  throw new Error('redis-server is not installed; .ci/run installs the Debian package')
}

describe.skipIf(redisMissing)('name bindings in Redis', () => {
  let redis: TestRedis
  const clients: RedisClient[] = []
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    for (const client of clients) client.close()
    await redis[Symbol.asyncDispose]()
  })

  async function connect(): Promise<RedisClient> {
    const client = new RedisClient(redis.url)
    clients.push(client)
    return client
  }

  test('bindings stored before skeletons were kept keep their keys, never lapse, and refuse look-alikes', async () => {
    const client = await connect()
    await client.send('FLUSHALL', [])
    // As the store before this one wrote them: name key → identity key, two already alike.
    await client.send('HSET', [KEYS.identities, 'alice', KEY_A, 'aiice', KEY_B, 'mallory', KEY_A])
    const identities = createRedisIdentities(client)
    const later = { unusedBefore: YEAR }
    expect(await identities.claim('Alice', KEY_A, YEAR + 1, later)).toBe('known')
    expect(await identities.claim('aIice', KEY_B, YEAR + 1, later)).toBe('known')
    expect(await identities.claim('mallory', KEY_C, YEAR + 1, later)).toBe('conflict')
    expect(await identities.claim('a1ice', KEY_C, YEAR + 1, later)).toBe('confusable')
    expect(await identities.claim('rnallory', KEY_C, YEAR + 1, later)).toBe('confusable')
    expect(await identities.claim('carol', KEY_C, YEAR + 1, later)).toBe('new')
  })

  test('two instances claiming look-alikes at once bind exactly one of them', async () => {
    const [one, two] = [await connect(), await connect()]
    await one.send('FLUSHALL', [])
    const [first, second] = [createRedisIdentities(one), createRedisIdentities(two)]
    for (let round = 0; round < 20; round += 1) {
      const results = await Promise.all([
        first.claim(`alice${round}`, KEY_A, round),
        second.claim(`aIice${round}`, KEY_B, round),
      ])
      expect(results.sort()).toEqual(['confusable', 'new'])
    }
  })

  test('frees more lapsed bindings than one claim’s batch over the next claims', async () => {
    const client = await connect()
    await client.send('FLUSHALL', [])
    const identities = createRedisIdentities(client)
    for (let index = 0; index < 300; index += 1) {
      await identities.claim(`squat${index}`, KEY_A, index)
    }
    const lapse = { unusedBefore: 1000 }
    await identities.claim('carol', KEY_B, 1000, lapse)
    await identities.claim('dave', KEY_B, 1000, lapse)
    expect(await client.send('ZCARD', [KEYS.unconfirmedNames])).toBe(2)
    expect(await client.send('HLEN', [KEYS.identities])).toBe(2)
    expect(await client.send('HLEN', [KEYS.nameSkeletons])).toBe(2)
  })
})
