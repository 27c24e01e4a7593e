// The admin's commands in a room shared through Redis: asked of one instance, they hold on every
// instance (issue 16, item 4). Two real servers, a real redis-server, real MLS clients.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { answerControl } from '../apps/server/admin/control.ts'
import { importIdentity, createIdentityKeyPair as keyPair } from '../shared/crypto/identity-key.ts'
import { tryJoin } from './support/admin.ts'
import { startEngineClient, transportFor } from './support/engine.ts'
import { connectClient, join, startTestServer, type TestServer } from './support/harness.ts'
import { hasRedis, startRedis } from './support/redis.ts'

setDefaultTimeout(60_000)

const redisMissing = !hasRedis()
if (redisMissing && process.env.CHATBOX_REQUIRE_REDIS === '1') {
  throw new Error('redis-server is not installed; .ci/run installs the Debian package')
}

const FAST = { heartbeatMs: 100, instanceTimeoutMs: 800, leaseMs: 800 }

/** What the control socket of this instance answers, as `bun run admin` would reach it. */
function controlOf(server: TestServer) {
  if (!server.cluster) throw new Error('not a cluster instance')
  return answerControl(server.cluster, {
    live: { members: () => server.room.members(), expel: server.room.expel, events: server.events },
    pageUrl: `https://localhost:${server.webPort}/`,
    terminalAddress: `localhost:${server.termPort}`,
    now: Date.now,
    randomBytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
  })
}

describe.skipIf(redisMissing)('admin commands through one of two instances', () => {
  test('a ban asked of one instance puts out a member on the other and holds on both', async () => {
    await using redis = await startRedis()
    await using one = await startTestServer({ redis: { url: redis.url, ...FAST } })
    await using two = await startTestServer({ redis: { url: redis.url, ...FAST } })
    await using watcher = await connectClient(transportFor(one, 'tls'))
    await join(watcher, 'watcher')
    await using alice = await startEngineClient(one, 'alice', 'tls')
    await using carol = await startEngineClient(two, 'carol', 'wss')
    await alice.waitFor('membership', (event) => event.members.includes('carol'))

    const control = controlOf(one)
    const listed = await control({ command: 'members' })
    const names = 'members' in listed ? listed.members.map((member) => member.name) : []
    expect(names).toEqual(['alice', 'carol', 'watcher'])

    expect(await control({ command: 'ban', name: 'carol' })).toMatchObject({ ok: true })
    // Connected to the other instance, carol is put out there, and her leaf goes.
    await carol.waitFor('error', (event) => event.code === 'banned')
    const leave = await watcher.inbox.take(
      'presence',
      (frame) => frame.event === 'leave' && frame.name === 'carol',
    )
    expect(leave).toMatchObject({ reason: 'banned' })
    await watcher.inbox.take('commit', (frame) => frame.removes.includes(carol.session.identityKey))
    await alice.waitFor('membership', (event) => event.removed.includes('carol'))

    // Her key is refused on both instances, under any name, until unbanned through the other.
    const stored = await carol.stores.identity.load()
    if (!stored) throw new Error('carol has no identity')
    const carolKeys = await importIdentity(stored)
    for (const [server, name] of [
      [one, 'carol'],
      [two, 'carol2'],
    ] as const) {
      expect(await tryJoin(transportFor(server, 'tls'), name, carolKeys)).toMatchObject({
        code: 'banned',
      })
    }
    expect(await controlOf(two)({ command: 'unban', name: 'carol' })).toMatchObject({ ok: true })
    expect(await tryJoin(transportFor(one, 'tls'), 'carol', carolKeys)).toMatchObject({
      type: 'ready',
    })
  })

  test('an invite made through one instance is taken once, on either', async () => {
    await using redis = await startRedis()
    await using one = await startTestServer({ redis: { url: redis.url, ...FAST } })
    await using two = await startTestServer({ redis: { url: redis.url, ...FAST } })
    const made = await controlOf(one)({ command: 'invite', name: 'dave', days: 1 })
    const code = 'done' in made ? (made.done.match(/--invite=(\S+)/)?.[1] ?? '') : ''
    const [first, second] = [await keyPair(), await keyPair()]
    const answers = await Promise.all([
      tryJoin(transportFor(one, 'tls'), 'dave', first, code),
      tryJoin(transportFor(two, 'wss'), 'dave', second, code),
    ])
    // The invite binds dave to one of the two keys; the other finds the name taken.
    expect(answers.map((answer) => answer.type).sort()).toEqual(['error', 'ready'])
    expect(answers.find((answer) => answer.type === 'error')).toMatchObject({ code: 'name_taken' })
  })
})
