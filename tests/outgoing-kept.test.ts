// Own messages on their way outlive the session that sent them: a reload, a restart or a crash
// neither loses one nor shows it twice to anyone. What a crash leaves is the device's files as
// they are at that moment, copied here before the session is closed.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { ChatEvent } from '../shared/client/events.ts'
import { createFileStores } from '../shared/client/file-stores.ts'
import type { ConnectTransport } from '../shared/client/transport.ts'
import {
  type EngineClient,
  startEngineClient,
  startEngineSession,
  transportFor,
} from './support/engine.ts'
import { startTestServer, type TestServer, temporaryDirectory } from './support/harness.ts'
import { until } from './support/until.ts'

// Real servers, real MLS and real files on a shared two-core machine.
setDefaultTimeout(30_000)

/** A client's binary `app` frame starts with this tag. */
const APP_TAG = 0x01

/**
 * A link that can lose what the client sends (`lose`: the frame left, the server never logged it)
 * and hold back the log's `app` frames from the client (`hold`: logged, but the device died before
 * it heard so).
 */
function faultyLink(server: TestServer) {
  const link = { lose: false, hold: false }
  const connect: ConnectTransport = async (events) => {
    const inner = await transportFor(
      server,
      'wss',
    )({
      ...events,
      frame: (frame) => {
        if (!(link.hold && frame.type === 'app')) events.frame(frame)
      },
    })
    return {
      send(wire) {
        if (link.lose && typeof wire !== 'string' && wire[0] === APP_TAG) return
        inner.send(wire)
      },
      close: () => inner.close(),
    }
  }
  return { connect, link }
}

/** The device's directory as a crash right now would leave it. */
function crashCopy(dir: string, into: string): string {
  const copy = join(into, 'after-crash')
  cpSync(dir, copy, { recursive: true })
  return copy
}

function textsFrom(client: EngineClient, from: string, text: string): ChatEvent[] {
  return client.events.filter(
    (event) => event.type === 'message' && event.from === from && event.text === text,
  )
}

const outgoingFiles = (dir: string) =>
  readdirSync(dir).filter((file) => file.startsWith('outgoing-'))

/** alice with her stores in `device`, over a faulty link, in the group with bob. */
async function aliceOnFiles(server: TestServer, device: string) {
  const first = faultyLink(server)
  const alice = await startEngineSession(first.connect, 'alice', {
    stores: createFileStores(device),
  })
  await alice.waitFor('membership', (event) => event.members.length === 2)
  return { alice, first }
}

describe('own messages on their way, across a crash', () => {
  test('one that never reached the log is shown pending after the restart, sent once, and sealed meanwhile', async () => {
    using home = temporaryDirectory()
    const device = join(home, 'alice')
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'tls')
    const { alice, first } = await aliceOnFiles(server, device)

    first.link.lose = true
    const { id } = await alice.session.sendText('written before the crash')
    const left = crashCopy(device, home)
    await alice.session.close()

    // Sealed at rest, as history is: the file is the owner's alone and shows no plaintext.
    const [kept] = outgoingFiles(left)
    expect(kept).toBeDefined()
    const file = join(left, kept as string)
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600')
    const bytes = readFileSync(file, 'utf8')
    expect(bytes).not.toContain('written before')
    expect(Buffer.from(bytes.trim(), 'base64url').toString('latin1')).not.toContain(
      'written before',
    )

    await using restarted = await startEngineSession(faultyLink(server).connect, 'alice', {
      stores: createFileStores(left),
    })
    const shown = restarted.events.find((event) => event.type === 'delivery' && event.id === id)
    expect(shown).toMatchObject({ state: 'pending', content: { text: 'written before the crash' } })
    await restarted.waitFor('delivery', (event) => event.id === id && event.state === 'sent')
    await bob.waitFor('message', (event) => event.text === 'written before the crash')
    await restarted.session.sendText('and after it')
    await bob.waitFor('message', (event) => event.text === 'and after it')
    expect(textsFrom(bob, 'alice', 'written before the crash')).toHaveLength(1)
    expect(textsFrom(restarted, 'alice', 'written before the crash')).toHaveLength(1)
    // Sent: nothing is left on its way, on the device either.
    await until(() => outgoingFiles(left).length === 0, 'nothing kept')
  })

  test('one the log took before the crash is sent after the restart, never sent again', async () => {
    using home = temporaryDirectory()
    const device = join(home, 'alice')
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'tls')
    const { alice, first } = await aliceOnFiles(server, device)

    first.link.hold = true
    const { id } = await alice.session.sendText('logged, unheard')
    await bob.waitFor('message', (event) => event.text === 'logged, unheard')
    const left = crashCopy(device, home)
    await alice.session.close()
    expect(outgoingFiles(left)).toHaveLength(1)

    await using restarted = await startEngineSession(faultyLink(server).connect, 'alice', {
      stores: createFileStores(left),
    })
    await restarted.waitFor('delivery', (event) => event.id === id && event.state === 'sent')
    await restarted.session.sendText('the next one')
    await bob.waitFor('message', (event) => event.text === 'the next one')
    expect(textsFrom(bob, 'alice', 'logged, unheard')).toHaveLength(1)
    expect(textsFrom(restarted, 'alice', 'logged, unheard')).toHaveLength(1)
    expect(restarted.events.filter((event) => event.type === 'warning')).toEqual([])
    await until(() => outgoingFiles(left).length === 0, 'nothing kept')
  })
})
