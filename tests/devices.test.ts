// One person, several devices, with the real server and the real client engine over both
// transports: linking by code, reading and sending from each device, unlinking.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { answerControl } from '../apps/server/admin/control.ts'
import { createMemoryStores } from '../shared/client/memory-stores.ts'
import { applyCommit, decodeState, decryptMessage } from '../shared/client/mls.ts'
import { ChatError } from '../shared/client/session.ts'
import type { StoredIdentity } from '../shared/client/stores.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import type { ConnectTransport } from '../shared/client/transport.ts'
import { approvalMessage } from '../shared/crypto/device-links.ts'
import {
  createIdentityKeyPair,
  exportIdentity,
  importIdentity,
  signWithIdentity,
} from '../shared/crypto/identity-key.ts'
import { decodeBase64url } from '../shared/protocol/base64url.ts'
import { errorFrame, type ServerFrame } from '../shared/protocol/frames.ts'
import { startEngineClient, startEngineSession, transportFor } from './support/engine.ts'
import { connectWebSocket, join, startTestServer, type TestServer } from './support/harness.ts'
import { hasRedis, startRedis } from './support/redis.ts'
import { startRelay } from './support/relay.ts'

// Real servers on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

/** alice on the terminal port, and a second alice on the page's transport linked by her code. */
async function aliceWithTwoDevices(server: TestServer) {
  const laptop = await startEngineClient(server, 'alice', 'tls')
  const phone = await startEngineClient(server, 'alice', 'wss', { linkDevice: true })
  const { code } = await phone.waitFor('link-code')
  const devices = await laptop.session.approveDevice(code)
  expect(devices.map((device) => device.thisDevice)).toEqual([true, false])
  await phone.waitFor('linked')
  await phone.connected
  await phone.session.whenReady()
  return { laptop, phone, code }
}

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!(error instanceof ChatError)) throw new Error(`expected a ChatError, got ${error}`)
  return error.serverCode ?? error.code
}

describe('a device nobody approved', () => {
  test('recorded by a malicious server: a key change for bob, who does not add it', async () => {
    await using server = await startTestServer()
    const laptop = await startEngineClient(server, 'alice', 'tls')
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await bob.waitFor('membership', (event) => event.members.length === 2)
    // alice goes away (her leaf stays for the grace), so bob is the one asked to add the ghost.
    const aliceKey = laptop.session.identityKey
    await laptop.session.close()
    const ghostKeys = await createIdentityKeyPair()
    const stores = createMemoryStores()
    await stores.identity.save({ ...exportIdentity(ghostKeys), createdAt: 0 })
    const bogus = { by: aliceKey, signature: 'A'.repeat(86) }
    const recorded = await server.identities?.linkDevice('alice', ghostKeys.publicKeyText, bogus, 1)
    expect(recorded?.kind).toBe('linked')
    await using ghost = await startEngineClient(server, 'alice', 'tls', {
      stores,
      waitForGroup: false,
    })
    expect(await bob.waitFor('key-change')).toMatchObject({
      name: 'alice',
      previousKey: aliceKey,
      newKey: ghostKeys.publicKeyText,
    })
    // bob's committer leaves it out and says why; the group stays bob and alice's laptop.
    await bob.waitFor('warning', (event) => event.code === 'refused_add')
    expect(ghost.session.epoch()).toBeUndefined()
    expect(bob.events.filter((event) => event.type === 'membership').at(-1)).toMatchObject({
      epoch: 1,
      members: ['alice', 'bob'],
    })
  })
})

describe('approvals the device did not ask for', () => {
  test('a server that sends a first device approvals of its own making is not believed', async () => {
    await using server = await startTestServer()
    const stores = createMemoryStores()
    const identity = await createIdentityKeyPair()
    await stores.identity.save({ ...exportIdentity(identity), createdAt: 0 })
    // Plays the malicious server: right after `ready`, approvals signed by a key of its own.
    const serverKey = await createIdentityKeyPair()
    const signature = await signWithIdentity(
      serverKey,
      approvalMessage('alice', identity.publicKeyText),
    )
    const forged = { type: 'linked' as const, links: [{ by: serverKey.publicKeyText, signature }] }
    const connect: ConnectTransport = (events) =>
      transportFor(
        server,
        'tls',
      )({
        ...events,
        frame(frame) {
          events.frame(frame)
          if (frame.type === 'ready') events.frame(forged)
        },
      })
    await using alice = await startEngineClient(server, 'alice', 'tls', { connect, stores })
    const warning = await alice.waitFor('warning', (event) => event.code === 'protocol')
    expect(warning.message).toContain('did not ask for')
    expect(alice.session.personKey).toBe(identity.publicKeyText)
    expect((await stores.identity.load())?.links).toBeUndefined()
  })
})

describe('a second device', () => {
  test('that missed its approvals is given them again when it asks to be linked', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await using laptop = await startEngineClient(server, 'alice', 'tls')
    await bob.waitFor('membership', (event) => event.members.length === 2)
    // Approved and recorded, but its `linked` never reached it (it was gone by then).
    const phoneKeys = await createIdentityKeyPair()
    const signature = await signWithIdentity(
      await importIdentity(laptopIdentity(await laptop.stores.identity.load())),
      approvalMessage('alice', phoneKeys.publicKeyText),
    )
    const approval = { by: laptop.session.identityKey, signature }
    await server.identities?.linkDevice('alice', phoneKeys.publicKeyText, approval, 1)
    const stores = createMemoryStores()
    await stores.identity.save({ ...exportIdentity(phoneKeys), createdAt: 0 })
    await using phone = await startEngineClient(server, 'alice', 'wss', {
      stores,
      linkDevice: true,
    })
    await phone.waitFor('linked')
    await phone.connected
    await phone.session.whenReady()
    expect(phone.session.personKey).toBe(laptop.session.identityKey)
    expect((await stores.identity.load())?.links).toEqual([approval])
    await bob.waitFor('membership', (event) => event.members.length === 3)
    expect(bob.session.pendingKeyChanges()).toEqual([])
  })

  test('linked by its code reads what bob sends; what it sends shows on the first as her own', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'tls')
    const { laptop, phone } = await aliceWithTwoDevices(server)
    await using _laptop = laptop
    await using _phone = phone

    await bob.session.sendText('hello both of you')
    for (const device of [laptop, phone]) {
      const message = await device.waitFor('message', (event) => event.text === 'hello both of you')
      expect(message).toMatchObject({ from: 'bob', own: false })
    }
    await phone.session.sendText('from my phone')
    expect(
      await laptop.waitFor('message', (event) => event.text === 'from my phone'),
    ).toMatchObject({ from: 'alice', own: true })
    expect(await bob.waitFor('message', (event) => event.text === 'from my phone')).toMatchObject({
      from: 'alice',
      own: false,
    })
    // bob knew alice's first key: the phone her laptop approved is her, not a key change.
    expect(bob.events.filter((event) => event.type === 'key-change')).toEqual([])
    expect(bob.session.pendingKeyChanges()).toEqual([])
    const alice = (await bob.session.members()).find((member) => member.name === 'alice')
    expect(alice?.devices).toHaveLength(2)
    expect(alice?.identityKey).toBe(laptop.session.identityKey)
    // Safety numbers cover the person: the same from either of alice's devices.
    expect(await laptop.session.safetyNumber('bob')).toBe(await phone.session.safetyNumber('bob'))
  })

  test('refuses a code used twice, a code nobody shows, and one typed wrong', async () => {
    await using server = await startTestServer()
    const { laptop, phone, code } = await aliceWithTwoDevices(server)
    await using _laptop = laptop
    await using _phone = phone
    expect(await refusal(laptop.session.approveDevice(code))).toBe('link_invalid')
    expect(await refusal(laptop.session.approveDevice('AAAA-BBBB-CCCC'))).toBe('link_invalid')
    expect(await refusal(laptop.session.approveDevice('not a code'))).toBe('link_code')
    expect(await laptop.session.devices()).toHaveLength(2)
  })

  test('takes as its answer only a refusal of its own request, not a commit refused meanwhile', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    const { ca } = server
    const connect = tlsTransport({
      hostname: '127.0.0.1',
      port: relay.port,
      ca,
      serverName: 'localhost',
    })
    await using alice = await startEngineSession(connect, 'alice')
    // The relay holds the server's answer back, so the listing is still waiting.
    const held = Promise.withResolvers<ServerFrame>()
    relay.tamper = (frame) => {
      if (frame.type !== 'devices') return [frame]
      held.resolve(frame)
      return []
    }
    const listing = alice.session.devices()
    const answer = await held.promise
    // While the listing waits, a refusal of a commit (it names no device request) comes in.
    const commitRefusal = errorFrame(
      'bad_signature',
      "the commit is not signed with alice's key",
      false,
    )
    relay.inject(commitRefusal)
    await alice.waitFor('error', (event) => event.code === 'bad_signature')
    relay.inject(answer)
    expect((await listing).map((device) => device.thisDevice)).toEqual([true])
  })

  test('refuses a device nobody approved in time', async () => {
    await using server = await startTestServer({ limits: { linkCodeMs: 300 } })
    await using laptop = await startEngineClient(server, 'alice', 'tls')
    await using phone = await startEngineClient(server, 'alice', 'wss', { linkDevice: true })
    const { code } = await phone.waitFor('link-code')
    expect(await phone.waitFor('error', (event) => event.code === 'link_expired')).toMatchObject({
      fatal: true,
    })
    expect(await refusal(laptop.session.approveDevice(code))).toBe('link_invalid')
  })

  test('unlinked, it is put out, and its saved state cannot read what is sent after', async () => {
    await using server = await startTestServer()
    await using watcher = await connectWebSocket(server)
    await join(watcher, 'watcher')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    const { laptop, phone } = await aliceWithTwoDevices(server)
    await using _laptop = laptop
    await bob.waitFor('membership', (event) => event.members.length === 3)
    const phoneBefore = (await phone.stores.group.load())?.state as string
    const phoneKey = phone.session.identityKey

    await expect(laptop.session.unlinkDevice(laptop.session.identityKey)).rejects.toThrow()
    const after = await laptop.session.unlinkDevice(phoneKey)
    expect(after.map((device) => device.identityKey)).toEqual([laptop.session.identityKey])
    expect(await phone.waitFor('error', (event) => event.code === 'unlinked')).toMatchObject({
      fatal: true,
    })
    const removal = await watcher.inbox.take('commit', (frame) => frame.removes.includes(phoneKey))
    await bob.waitFor('membership', (event) => event.removed.includes('alice'))
    await bob.session.sendText('after the phone was unlinked')
    const sent = await watcher.inbox.take('app')
    await laptop.waitFor('message', (event) => event.text === 'after the phone was unlinked')

    // The phone's saved state, brought up to the commit that removed it (as a stolen copy that
    // kept listening would be), still cannot read what was sent after.
    const ciphertext = decodeBase64url(sent.ciphertext)
    const afterRemoval = await applyCommit(
      decodeState(decodeBase64url(phoneBefore)),
      decodeBase64url(removal.commit),
    )
    expect(afterRemoval.removed.map((leaf) => leaf.identityKey)).toContain(phoneKey)
    await expect(decryptMessage(afterRemoval.state, ciphertext)).rejects.toThrow()
    // Its key is refused from now on: connecting again does not get it back in.
    await phone.session.close()
    const again = await startEngineClient(server, 'alice', 'wss', {
      stores: phone.stores,
      waitForGroup: false,
    }).then(
      () => 'admitted',
      (error: unknown) => (error as ChatError).serverCode,
    )
    expect(again).toBe('unlinked')
    // Its approvals are forgotten with it: asked to, it can be linked anew, and reads again.
    expect((await phone.stores.identity.load())?.links).toBeUndefined()
    await using relinked = await startEngineClient(server, 'alice', 'wss', {
      stores: phone.stores,
      linkDevice: true,
    })
    await laptop.session.approveDevice((await relinked.waitFor('link-code')).code)
    await relinked.connected
    await relinked.session.whenReady()
    await bob.session.sendText('welcome back, phone')
    await relinked.waitFor('message', (event) => event.text === 'welcome back, phone')
  })
})

describe("the admin's word on a person", () => {
  test('ban puts out every device of the name and removes each leaf; release forgets them', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'wss')
    const { laptop, phone } = await aliceWithTwoDevices(server)
    await bob.waitFor('membership', (event) => event.members.length === 3)
    const stores = server.stores
    if (!stores) throw new Error('the test started the server: its stores are there')
    const control = answerControl(stores, {
      live: {
        members: () => server.room.members(),
        expel: server.room.expel,
        events: server.events,
      },
      pageUrl: `https://localhost:${server.webPort}/`,
      terminalAddress: `localhost:${server.termPort}`,
      now: Date.now,
      randomBytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
    })
    // Online and in the group from her phone alone: the admin sees her so.
    const laptopKey = laptop.session.identityKey
    await laptop.session.close()
    await bob.waitFor(
      'device-presence',
      (event) => event.event === 'leave' && event.identityKey === laptopKey,
    )
    const listed = await control({ command: 'members' })
    expect(
      'members' in listed && listed.members.find((member) => member.name === 'alice'),
    ).toMatchObject({
      online: true,
      inGroup: true,
    })
    await laptop.session.connect()
    expect(await control({ command: 'ban', name: 'alice' })).toMatchObject({ ok: true })
    for (const device of [laptop, phone]) {
      await device.waitFor('error', (event) => event.code === 'banned')
      expect(await stores.identities.isBanned(device.session.identityKey)).toBe(true)
    }
    await bob.waitFor('membership', (event) => event.members.join() === 'bob')
    expect(await control({ command: 'release', name: 'alice' })).toMatchObject({ ok: true })
    expect(await stores.identities.devices('alice')).toEqual([])
    await Promise.all([laptop.session.close(), phone.session.close()])
  })
})

describe.skipIf(!hasRedis())('devices across instances sharing Redis', () => {
  test('a device waiting on one instance is linked from the other, and unlinked from it', async () => {
    await using redis = await startRedis()
    const fast = { heartbeatMs: 100, instanceTimeoutMs: 800, leaseMs: 800 }
    await using one = await startTestServer({ redis: { url: redis.url, ...fast } })
    await using two = await startTestServer({ redis: { url: redis.url, ...fast } })
    await using laptop = await startEngineClient(one, 'alice', 'tls')
    await using bob = await startEngineClient(one, 'bob', 'wss')
    await using phone = await startEngineClient(two, 'alice', 'wss', { linkDevice: true })
    const { code } = await phone.waitFor('link-code')
    await laptop.session.approveDevice(code)
    await phone.connected
    await phone.session.whenReady()
    await bob.session.sendText('to alice on two instances')
    await phone.waitFor('message', (event) => event.text === 'to alice on two instances')
    expect(await refusal(laptop.session.approveDevice(code))).toBe('link_invalid')
    await laptop.session.unlinkDevice(phone.session.identityKey)
    expect(await phone.waitFor('error', (event) => event.code === 'unlinked')).toMatchObject({
      fatal: true,
    })
  })
})

/** A client's stored identity, which a test that signs in its name needs. */
function laptopIdentity(stored: StoredIdentity | undefined): StoredIdentity {
  if (!stored) throw new Error('the client keeps its identity once connected')
  return stored
}
