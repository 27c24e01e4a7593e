import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, readdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { ChatEvent, DeliveryEvent } from '../shared/client/events.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import {
  browserAvailable,
  type ChatPage,
  chromiumForTests,
  entryWith,
  openChat,
  pageUrl,
  say,
  shown,
  waitUntilReady,
} from './support/browser.ts'
import { type EngineClient, startEngineClient, startEngineSession } from './support/engine.ts'
import {
  startTestServer,
  type TestServer,
  temporaryDirectory,
  testCertificates,
} from './support/harness.ts'
import { hasRedis, startRedisPair } from './support/redis.ts'
import { freePort } from './support/serve-process.ts'
import { startTcpForward, type TcpForward } from './support/tcp-forward.ts'
import { CLIENT, spawnTerm, type TermProcess } from './support/term.ts'
import { hasTmux, startTmux } from './support/tmux.ts'
import { until } from './support/until.ts'

// Real servers, Redis and child processes on a shared two-core machine.
setDefaultTimeout(60_000)

/** The delivery states reported for one message, in order. */
function statesOf(client: EngineClient, id: string): string[] {
  return client.events
    .filter((event): event is DeliveryEvent => event.type === 'delivery' && event.id === id)
    .map((event) => event.state)
}

/** How many events of the client match. */
function countOf(client: EngineClient, where: (event: ChatEvent) => boolean): number {
  return client.events.filter(where).length
}

/** Waits until `count` lines match: `waitForLine` wakes on every new line and asks again. */
async function linesLike(term: TermProcess, pattern: RegExp, count: number): Promise<void> {
  const enough = { test: () => term.lines.filter((line) => pattern.test(line)).length >= count }
  await term.waitForLine(enough as unknown as RegExp)
}

/** The files in a terminal's config home that keep its messages on their way. */
function keptOnTheWay(home: string): string[] {
  return readdirSync(home, { recursive: true })
    .map(String)
    .filter((file) => basename(file).startsWith('outgoing-'))
}

/** alice over a TCP link the test can cut (a relay between her and the raw TLS port). */
async function aliceThroughLink(server: TestServer, link: TcpForward): Promise<EngineClient> {
  const connect = tlsTransport({
    hostname: '127.0.0.1',
    port: link.port,
    ca: server.ca,
    serverName: 'localhost',
  })
  return startEngineSession(connect, 'alice', { reconnect: { initialMs: 50, maxMs: 200 } })
}

describe('own messages on their way (engine)', () => {
  test('one sent while the link is cut is pending at once, and sent once the log shows it after the reconnect', async () => {
    await using server = await startTestServer()
    await using link = await startTcpForward(server.termPort)
    await using alice = await aliceThroughLink(server, link)
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await alice.waitFor('membership', (event) => event.members.length === 2)

    // The relay now leads nowhere: the link drops and every new attempt fails.
    link.retarget(freePort())
    await alice.waitFor('status', (event) => event.status === 'reconnecting')
    const sending = alice.session.sendText('typed while the link was cut')
    // Shown at once, before anything reached the server.
    const pending = alice.events.find((event) => event.type === 'delivery')
    expect(pending).toMatchObject({
      state: 'pending',
      content: { kind: 'text', text: 'typed while the link was cut' },
    })
    const { id } = await sending
    expect(pending?.id).toBe(id)
    expect(statesOf(alice, id)).toEqual(['pending'])

    link.retarget(server.termPort)
    await alice.waitFor('delivery', (event) => event.id === id && event.state === 'sent')
    expect(statesOf(alice, id)).toEqual(['pending', 'sent'])
    // Its own event from the log comes just before `sent`, once.
    const own = alice.events.filter((event) => event.type === 'message' && event.id === id)
    expect(own).toHaveLength(1)
    expect(alice.events.indexOf(own[0] as ChatEvent)).toBe(
      alice.events.findIndex((event) => event.type === 'delivery' && event.state === 'sent') - 1,
    )
    await bob.waitFor('message', (event) => event.text === 'typed while the link was cut')
    await bob.session.sendText('and back')
    await alice.waitFor('message', (event) => event.text === 'and back')
    expect(countOf(bob, (event) => event.type === 'message' && event.from === 'alice')).toBe(1)
  })

  test.skipIf(!hasRedis())(
    'one the server refuses fails with the reason; retried it fails again; logged after all it is sent, and read once',
    async () => {
      await using pair = await startRedisPair()
      // A second for the replica to confirm: 300 ms was once too little on a loaded machine at start-up.
      const redis = { url: pair.url, waitReplicas: 1, waitTimeoutMs: 1000 }
      await using server = await startTestServer({ redis })
      await using alice = await startEngineClient(server, 'alice', 'wss')
      await using bob = await startEngineClient(server, 'bob', 'tls')
      await alice.waitFor('membership', (event) => event.members.length === 2)

      // The replica stops hearing the primary: every append is refused (`unavailable`).
      pair.link.hold()
      const { id } = await alice.session.sendText('while the replica is away')
      const failed = await alice.waitFor('delivery', (event) => event.state === 'failed')
      expect(failed.id).toBe(id)
      expect(failed.reason).toContain('the server refused it: ')
      expect(alice.session.unacknowledged()).toBe(1)
      // Nothing pending is left: a script's end of input does not wait on it.
      await alice.session.settled()

      await alice.session.retry(id)
      await alice.waitFor(
        'delivery',
        (event) => event.state === 'failed' && statesOf(alice, id).length === 4,
      )
      expect(statesOf(alice, id)).toEqual(['pending', 'failed', 'pending', 'failed'])

      // The replica catches up: the primary held both copies, and they are shown now.
      pair.link.cut()
      await alice.waitFor('delivery', (event) => event.id === id && event.state === 'sent')
      await bob.waitFor('message', (event) => event.text === 'while the replica is away')
      await alice.session.sendText('after it')
      await bob.waitFor('message', (event) => event.text === 'after it')
      expect(statesOf(alice, id)).toEqual(['pending', 'failed', 'pending', 'failed', 'sent'])
      expect(countOf(alice, (event) => event.type === 'message' && event.id === id)).toBe(1)
      expect(countOf(bob, (event) => event.type === 'message' && event.id === id)).toBe(1)
      // The second copy is passed over by both, not reported as unreadable.
      const warnings = [...alice.events, ...bob.events].filter(
        (event) => event.type === 'warning' && event.code !== 'history_unreadable',
      )
      expect(warnings).toEqual([])
      expect(alice.session.unacknowledged()).toBe(0)
      await expect(alice.session.retry(id)).rejects.toMatchObject({ code: 'unknown_message' })
    },
  )
})

describe('own messages on their way (terminal)', () => {
  test('pipe mode: a line sent while the link is cut is shown at once with a mark, then said sent', async () => {
    await using server = await startTestServer()
    await using link = await startTcpForward(server.termPort)
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using alice = await spawnTerm(server, { name: 'alice', port: link.port })
    await bob.waitFor('membership', (event) => event.members.includes('alice'))
    // alice reads the group: she is in it, and can send.
    await bob.session.sendText('can you read me?')
    await alice.waitForLine(/bob: can you read me\?/)

    link.retarget(freePort())
    await alice.waitForLine(/reconnecting/)
    alice.send('typed while the link was cut')
    const marked = await alice.waitForLine(/alice: typed while the link was cut/)
    expect(marked).toMatch(/^\d\d:\d\d alice: typed while the link was cut …$/)

    link.retarget(server.termPort)
    await alice.waitForLine(/^-- ✓ sent: "typed while the link was cut"$/)
    await bob.waitFor('message', (event) => event.text === 'typed while the link was cut')
    // The mark and the word that it went: the message itself is not printed again.
    expect(alice.lines.filter((line) => line.includes('typed while the link was cut'))).toEqual([
      marked,
      '-- ✓ sent: "typed while the link was cut"',
    ])
  })

  test('pipe mode: a line on its way when the client is killed goes, once, at its next start', async () => {
    await using server = await startTestServer()
    await using link = await startTcpForward(server.termPort)
    await using bob = await startEngineClient(server, 'bob', 'wss')
    using home = temporaryDirectory('chatbox-term-')
    const alice = await spawnTerm(server, { name: 'alice', port: link.port, home })
    await bob.waitFor('membership', (event) => event.members.includes('alice'))
    await bob.session.sendText('can you read me?')
    await alice.waitForLine(/bob: can you read me\?/)

    link.retarget(freePort())
    await alice.waitForLine(/reconnecting/)
    const text = 'typed, then the client was killed'
    alice.send(text)
    await alice.waitForLine(/alice: typed, then the client was killed …$/)
    // Kept on the device (sealed): a crash from here on loses nothing.
    await until(() => keptOnTheWay(home).length > 0, 'a kept line')
    await alice.crash()

    // Sent as the next start joins, it reads as any sent line does once the log holds it.
    await using again = await spawnTerm(server, { name: 'alice', home })
    await again.waitForLine(/^\d\d:\d\d alice: typed, then the client was killed$/)
    await bob.waitFor('message', (event) => event.text === text)
    await bob.session.sendText('and now?')
    await again.waitForLine(/bob: and now\?/)
    expect(countOf(bob, (event) => event.type === 'message' && event.text === text)).toBe(1)
    await until(() => keptOnTheWay(home).length === 0, 'nothing kept')
  })

  test.skipIf(!hasRedis())(
    'pipe mode: a refused line says why and how to retry; /retry sends it again',
    async () => {
      await using pair = await startRedisPair()
      // A second for the replica to confirm: 300 ms was once too little on a loaded machine at start-up.
      const redis = { url: pair.url, waitReplicas: 1, waitTimeoutMs: 1000 }
      await using server = await startTestServer({ redis })
      await using bob = await startEngineClient(server, 'bob', 'wss')
      await using alice = await spawnTerm(server, { name: 'alice' })
      await bob.waitFor('membership', (event) => event.members.includes('alice'))
      await bob.session.sendText('can you read me?')
      await alice.waitForLine(/bob: can you read me\?/)

      pair.link.hold()
      alice.send('while the replica is away')
      const refused = await alice.waitForLine(/not sent/)
      expect(refused).toMatch(
        /^-- not sent: "while the replica is away" \(the server refused it: .+\); \/retry 1 sends it again$/,
      )
      // Sent again, and refused again while the replica is still away: the same number.
      alice.send('/retry 1')
      await linesLike(alice, /^-- not sent: .*; \/retry 1 sends it again$/, 2)

      pair.link.cut()
      await alice.waitForLine(/^-- ✓ sent: "while the replica is away"$/, 20_000)
      await bob.waitFor('message', (event) => event.text === 'while the replica is away')
    },
  )

  test.skipIf(!hasTmux())(
    'the chat screen: a line sent while the link is cut shows its mark at once, then that it went',
    async () => {
      await using server = await startTestServer()
      await using link = await startTcpForward(server.termPort)
      await using bob = await startEngineClient(server, 'bob', 'wss')
      const certs = await testCertificates()
      using home = temporaryDirectory('chatbox-tmux-')
      await using terminal = await startTmux(
        [
          'bun',
          CLIENT,
          ...['--server', `127.0.0.1:${link.port}`, '--name', 'alice'],
          ...['--config-home', home, '--download-dir', join(home, 'downloads')],
          ...['--ca', join(certs.dir, 'ca.pem')],
        ],
        { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
      )
      await bob.waitFor('membership', (event) => event.members.includes('alice'))
      await bob.session.sendText('can you read me?')
      await terminal.waitFor(/bob: can you read me\?/)

      link.retarget(freePort())
      await terminal.waitFor(/reconnecting/)
      await terminal.type('typed while the link was cut')
      await terminal.keys('Enter')
      const cut = await terminal.waitFor(/alice: typed while the link was cut …/)
      console.log(`the screen while the link is cut:\n${cut}`)

      link.retarget(server.termPort)
      const after = await terminal.waitFor(/✓ sent: "typed while the link was cut"/)
      console.log(`the screen once it went:\n${after}`)
      await bob.waitFor('message', (event) => event.text === 'typed while the link was cut')
    },
  )
})

const OUTPUT_DIR = join(import.meta.dir, '..', 'test-output')

/** bob and alice (the page) in the room; then the server stops, and alice types `text`. */
async function typedWhileDown(
  server: TestServer,
  bob: EngineClient,
  alice: ChatPage,
  text: string,
) {
  await bob.waitFor('membership', (event) => event.members.includes('alice'))
  await bob.session.sendText('can you read me?')
  await shown(alice.page, 'can you read me?')
  await server.stop()
  await alice.page.locator('.status[data-status="reconnecting"]').waitFor()
  await say(alice.page, text)
  return shown(alice.page, text)
}

describe.skipIf(!browserAvailable())('own messages on their way (page)', () => {
  const chromium = chromiumForTests()
  beforeAll(() => mkdirSync(OUTPUT_DIR, { recursive: true }))

  test('a message sent while the server is down shows "Sending…" at once, and no mark once it went', async () => {
    using dataDir = temporaryDirectory()
    const first = await startTestServer({ dataDir })
    let second: TestServer | undefined
    try {
      await using bob = await startEngineClient(first, 'bob', 'tls')
      await using alice = await openChat(chromium.browser, first, 'alice')
      const text = 'typed while the server was down'
      const entry = await typedWhileDown(first, bob, alice, text)
      expect(await entry.locator('.delivery').textContent()).toBe('Sending…')
      expect(await entry.getAttribute('class')).toContain('own')
      await alice.page.screenshot({ path: join(OUTPUT_DIR, 'web-pending.png') })

      second = await startTestServer({ dataDir, webPort: first.webPort, termPort: first.termPort })
      await waitUntilReady(alice.page)
      await entry.locator('.delivery').waitFor({ state: 'detached' })
      await bob.waitFor('message', (event) => event.text === text)
      expect(await entryWith(alice.page, text).count()).toBe(1)
    } finally {
      await second?.stop()
    }
  })

  test('what is typed while earlier messages are still on their way is never wiped from the composer', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await using alice = await openChat(chromium.browser, server, 'alice')
    await bob.waitFor('membership', (event) => event.members.includes('alice'))
    // More than the client's pacing lets go at once: the later ones wait their turn while the
    // next is typed, and a send that cleared the composer only once it went wiped that.
    const composer = alice.page.getByLabel('Message', { exact: true })
    const texts = Array.from({ length: 30 }, (_, index) => `quick ${index + 1}`)
    for (const text of texts) {
      await composer.fill(text)
      await composer.press('Enter')
    }
    for (const text of texts) await bob.waitFor('message', (event) => event.text === text, 30_000)
    expect(await composer.inputValue()).toBe('')
  })

  test('a message typed while the server is down, its tab then closed, is there when the tab opens again, and goes once', async () => {
    using dataDir = temporaryDirectory()
    const first = await startTestServer({ dataDir })
    let second: TestServer | undefined
    try {
      await using bob = await startEngineClient(first, 'bob', 'tls')
      await using alice = await openChat(chromium.browser, first, 'alice')
      const text = 'typed, then the tab was closed'
      await typedWhileDown(first, bob, alice, text)
      await alice.page.close()

      second = await startTestServer({ dataDir, webPort: first.webPort, termPort: first.termPort })
      const page = await alice.context.newPage()
      // The reopened tab's messages are lost on the way for now, so it is seen still sending.
      const link = { losing: true, drop: () => {} }
      await page.routeWebSocket(/\/ws$/, (socket) => {
        const server = socket.connectToServer()
        socket.onMessage((message) => {
          const app = typeof message !== 'string' && message[0] === 0x01
          if (!(app && link.losing)) server.send(message)
        })
        link.drop = () => socket.close()
      })
      await page.goto(pageUrl(second))
      await page.getByLabel('Your name').fill('alice')
      await page.getByRole('button', { name: 'Join the room' }).click()
      await waitUntilReady(page)
      const entry = await shown(page, text)
      expect(await entry.locator('.delivery').textContent()).toBe('Sending…')
      await page.screenshot({ path: join(OUTPUT_DIR, 'web-pending-reopened.png') })

      link.losing = false
      link.drop()
      await waitUntilReady(page)
      await entry.locator('.delivery').waitFor({ state: 'detached' })
      await bob.waitFor('message', (event) => event.text === text)
      await bob.session.sendText('got it')
      await shown(page, 'got it')
      expect(await entryWith(page, text).count()).toBe(1)
      expect(
        bob.events.filter((event) => event.type === 'message' && event.text === text),
      ).toHaveLength(1)
    } finally {
      await second?.stop()
    }
  })

  test.skipIf(!hasRedis())(
    'a message the server refuses says so, with a Retry that sends it again',
    async () => {
      await using pair = await startRedisPair()
      // A second for the replica to confirm: 300 ms was once too little on a loaded machine at start-up.
      const redis = { url: pair.url, waitReplicas: 1, waitTimeoutMs: 1000 }
      await using server = await startTestServer({ redis })
      await using bob = await startEngineClient(server, 'bob', 'tls')
      await using alice = await openChat(chromium.browser, server, 'alice')
      await bob.waitFor('membership', (event) => event.members.includes('alice'))
      await bob.session.sendText('can you read me?')
      await shown(alice.page, 'can you read me?')

      pair.link.hold()
      const text = 'refused for now'
      await say(alice.page, text)
      const entry = await shown(alice.page, text)
      const failed = entry.locator('.delivery.failed')
      await failed.waitFor()
      expect(await failed.textContent()).toMatch(/^Not sent — the server refused it: .+Retry$/)
      // Said on the message, not again in the bar over the composer.
      expect(await alice.page.locator('.problem').count()).toBe(0)
      await alice.page.screenshot({ path: join(OUTPUT_DIR, 'web-failed.png') })

      // Sent again, and refused again while the replica is still away.
      await entry.getByRole('button', { name: 'Retry' }).click()
      await entry.locator('.delivery.pending').waitFor()
      await failed.waitFor()

      pair.link.cut()
      await entry.locator('.delivery').waitFor({ state: 'detached' })
      await bob.waitFor('message', (event) => event.text === text)
      await bob.session.sendText('got it')
      await shown(alice.page, 'got it')
      expect(await entryWith(alice.page, text).count()).toBe(1)
      expect(
        bob.events.filter((event) => event.type === 'message' && event.text === text),
      ).toHaveLength(1)
    },
  )
})
