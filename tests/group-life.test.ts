import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { ChatEvent } from '../shared/client/events.ts'
import { applyCommit, decodeState, decryptMessage } from '../shared/client/mls.ts'
import type { ClientTransport, ConnectTransport } from '../shared/client/transport.ts'
import { decodeBase64url } from '../shared/protocol/base64url.ts'
import type { ServerFrame } from '../shared/protocol/frames.ts'
import { type EngineClient, startEngineClient, transportFor } from './support/engine.ts'
import {
  connectWebSocket,
  join,
  startTestServer,
  type TestServer,
  temporaryDirectory,
} from './support/harness.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

/** A transport that lets a test see or swallow frames before the engine gets them. */
function intercepted(
  inner: ConnectTransport,
  onFrame: (frame: ServerFrame, link: ClientTransport) => boolean,
) {
  const connect: ConnectTransport = async (events) => {
    let link: ClientTransport | undefined
    link = await inner({
      ...events,
      frame: (frame) => {
        if (link && !onFrame(frame, link)) return
        events.frame(frame)
      },
    })
    return link
  }
  return connect
}

async function everyoneAtOneEpoch(clients: EngineClient[], size: number) {
  await Promise.all(
    clients.map((client) =>
      client.waitFor('membership', (event) => event.members.length === size, 30_000),
    ),
  )
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const epochs = new Set(clients.map((client) => client.session.epoch()))
    if (epochs.size === 1) return
    await Bun.sleep(20)
  }
  throw new Error(`epochs never converged: ${clients.map((client) => client.session.epoch())}`)
}

describe('the MLS group over time', () => {
  test('a removed member’s saved state cannot read anything sent after its removal', async () => {
    await using server = await startTestServer()
    await using watcher = await connectWebSocket(server)
    await join(watcher, 'watcher')
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    const carol = await startEngineClient(server, 'carol', 'wss')
    await alice.waitFor('membership', (event) => event.members.length === 3)
    await bob.waitFor('membership', (event) => event.members.length === 3)
    const carolBefore = (await carol.stores.group.load())?.state as string
    const bobBefore = (await bob.stores.group.load())?.state as string

    await carol.session.leave()
    const removal = await watcher.inbox.take('commit', (frame) =>
      frame.removes.includes(carol.session.identityKey),
    )
    await alice.waitFor('membership', (event) => event.removed.includes('carol'))
    await alice.session.sendText('after carol left')
    await alice.session.sendFile({
      name: 'later.txt',
      bytes: new TextEncoder().encode('for bob only'),
    })
    const sent = [await watcher.inbox.take('app'), await watcher.inbox.take('app')]
    await bob.waitFor('file')

    for (const frame of sent) {
      const ciphertext = decodeBase64url(frame.ciphertext)
      // Straight from the old state: it has no keys for the new epoch.
      await expect(
        decryptMessage(decodeState(decodeBase64url(carolBefore)), ciphertext),
      ).rejects.toThrow()
      // Even after processing its own removal commit.
      const afterRemoval = await applyCommit(
        decodeState(decodeBase64url(carolBefore)),
        decodeBase64url(removal.commit),
      ).then(
        (effect) => effect.state,
        () => undefined,
      )
      if (afterRemoval) await expect(decryptMessage(afterRemoval, ciphertext)).rejects.toThrow()
    }
    // The same steps work for a member who stayed: the test can tell reading from not reading.
    const bobState = (
      await applyCommit(decodeState(decodeBase64url(bobBefore)), decodeBase64url(removal.commit))
    ).state
    const readable = await decryptMessage(
      bobState,
      decodeBase64url((sent[0] as { ciphertext: string }).ciphertext),
    )
    expect(readable.sender.name).toBe('alice')
  })

  test('ten members joining at once converge on one epoch and all read each other', async () => {
    await using server = await startTestServer()
    const names = Array.from({ length: 10 }, (_, index) => `member${index}`)
    const clients = await Promise.all(
      names.map((name, index) =>
        startEngineClient(server, name, index % 2 ? 'tls' : 'wss', { waitForGroup: false }),
      ),
    )
    try {
      await Promise.all(clients.map((client) => client.session.whenReady()))
      await everyoneAtOneEpoch(clients, 10)
      const codes = new Set(await Promise.all(clients.map((client) => client.session.roomCode())))
      expect(codes.size).toBe(1)
      for (const client of clients) await client.session.sendText(`hi from ${client.session.name}`)
      for (const client of clients) {
        for (const name of names) {
          await client.waitFor(
            'message',
            (event) => event.text === `hi from ${name}` && event.from === name,
          )
        }
      }
    } finally {
      await Promise.all(clients.map((client) => client.session.close()))
    }
  }, 60_000)

  test('a committer that drops in the middle of an add does not stall the room', async () => {
    await using server = await startTestServer({ limits: { commitTimeoutMs: 500 } })
    let sabotage = false
    await using alice = await startEngineClient(server, 'alice', 'wss', {
      connect: intercepted(transportFor(server, 'wss'), (frame, link) => {
        if (frame.type === 'commit-request' && sabotage) {
          sabotage = false
          link.close()
          return false
        }
        return true
      }),
    })
    await using bob = await startEngineClient(server, 'bob', 'tls')
    sabotage = true
    await using carol = await startEngineClient(server, 'carol', 'wss', { waitForGroup: false })
    await carol.session.whenReady()
    await bob.session.sendText('welcome carol')
    expect((await carol.waitFor('message')).text).toBe('welcome carol')
    expect(sabotage).toBe(false)
    void alice
  })

  test('a committer that stays silent is passed over after the timeout', async () => {
    await using server = await startTestServer({ limits: { commitTimeoutMs: 300 } })
    let deaf = false
    let swallowed = 0
    // alice, first in the room and so the first asked, goes deaf to requests while connected.
    await using alice = await startEngineClient(server, 'alice', 'wss', {
      connect: intercepted(transportFor(server, 'wss'), (frame) => {
        if (frame.type !== 'commit-request' || !deaf) return true
        swallowed += 1
        return false
      }),
    })
    await using bob = await startEngineClient(server, 'bob', 'tls')
    deaf = true
    const started = performance.now()
    await using carol = await startEngineClient(server, 'carol', 'wss', { waitForGroup: false })
    await carol.session.whenReady()
    expect(swallowed).toBe(1)
    expect(performance.now() - started).toBeGreaterThan(250)
    await alice.session.sendText('still here')
    expect((await carol.waitFor('message')).text).toBe('still here')
    void bob
  })

  test('after a server restart members resume and read what was sent while they were away', async () => {
    using dataDir = temporaryDirectory()
    const first = await startTestServer({ dataDir })
    const ports = { webPort: first.webPort, termPort: first.termPort }
    await using alice = await startEngineClient(first, 'alice', 'wss')
    const bob = await startEngineClient(first, 'bob', 'tls')
    await alice.waitFor('membership', (event) => event.members.length === 2)
    await bob.session.sendText('before the restart')
    await alice.waitFor('message', (event) => event.text === 'before the restart')
    await bob.session.close()
    await alice.session.sendText('while bob was away')
    await first.stop()
    await alice.waitFor('status', (event) => event.status === 'reconnecting')

    await using second = await startTestServer({ dataDir, ...ports })
    const back = alice.events.length
    await alice.waitFor(
      'status',
      (event) => event.status === 'ready' && alice.events.indexOf(event) >= back,
    )
    await alice.session.sendText('after the restart')
    await using bobAgain = await startEngineClient(second as TestServer, 'bob', 'tls', {
      stores: bob.stores,
    })
    await bobAgain.waitFor('message', (event) => event.text === 'after the restart')
    const read = bobAgain.events.flatMap((event) => (event.type === 'message' ? [event.text] : []))
    expect(read).toEqual(['while bob was away', 'after the restart'])
  })

  test('after the server lost its data, members start a new group and talk again', async () => {
    using firstData = temporaryDirectory()
    using secondData = temporaryDirectory()
    const first = await startTestServer({ dataDir: firstData })
    const ports = { webPort: first.webPort, termPort: first.termPort }
    await using alice = await startEngineClient(first, 'alice', 'wss')
    await using bob = await startEngineClient(first, 'bob', 'tls')
    for (let index = 0; index < 5; index += 1) await alice.session.sendText(`old ${index}`)
    await bob.waitFor('message', (event) => event.text === 'old 4')
    await first.stop()
    const aliceSince = alice.events.length
    const bobSince = bob.events.length
    await using second = await startTestServer({ dataDir: secondData, ...ports })
    const after = (client: typeof alice, since: number) => (event: ChatEvent) =>
      client.events.indexOf(event) >= since
    await bob.waitFor(
      'warning',
      (event) => event.code === 'out_of_sync' && after(bob, bobSince)(event),
    )
    for (const [client, since] of [
      [alice, aliceSince],
      [bob, bobSince],
    ] as const) {
      await client.waitFor(
        'membership',
        (event) => event.members.length === 2 && after(client, since)(event),
        15_000,
      )
    }
    await alice.session.sendText('fresh start')
    expect((await bob.waitFor('message', (event) => event.text === 'fresh start')).from).toBe(
      'alice',
    )
    void second
  })
})
