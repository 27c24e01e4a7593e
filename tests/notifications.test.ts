import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import {
  browserAvailable,
  chromiumForTests,
  joinAs,
  openPage,
  poll,
  shown,
  waitUntilReady,
} from './support/browser.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer, temporaryDirectory, testCertificates } from './support/harness.ts'
import { CLIENT, spawnTerm } from './support/term.ts'
import { hasTmux, startTmux } from './support/tmux.ts'

// Real servers, Chromium and child processes on a shared two-core machine.
setDefaultTimeout(60_000)

const BEL = '\x07'
const OUTPUT_DIR = join(import.meta.dir, '..', 'test-output')

describe('the terminal bell', () => {
  test('pipe mode: --bell rings for a message that names you, and only then; off by default', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using alice = await spawnTerm(server, { name: 'alice', args: ['--bell'] })
    await using carol = await spawnTerm(server, { name: 'carol' })
    await bob.waitFor('membership', (event) => event.members.length === 3)
    await bob.session.sendText('can you two read me?')
    await alice.waitForLine(/bob: can you two read me\?/)
    await carol.waitForLine(/bob: can you two read me\?/)

    await bob.session.sendText('malice is not a name')
    await bob.session.sendText('hey Alice and carol, look')
    const line = await alice.waitForLine(/bob: hey Alice and carol, look/)
    expect(line.startsWith(BEL)).toBe(true)
    expect(alice.lines.filter((text) => text.includes(BEL))).toEqual([line])
    // carol has the bell off: pipe mode rings only when asked to.
    await carol.waitForLine(/bob: hey Alice and carol, look/)
    expect(carol.lines.filter((text) => text.includes(BEL))).toEqual([])
  })

  test.skipIf(!hasTmux())(
    'the chat screen rings it by default, and not with --no-bell',
    async () => {
      await using server = await startTestServer()
      await using bob = await startEngineClient(server, 'bob', 'wss')
      const certs = await testCertificates()
      using home = temporaryDirectory('chatbox-bell-')
      const rang: Record<string, string> = {}
      const terminals = []
      for (const [name, extra] of [
        ['alice', []],
        ['carol', ['--no-bell']],
      ] as const) {
        const before = ourTmuxSessions()
        const terminal = await startTmux(
          [
            'bun',
            CLIENT,
            ...['--server', `127.0.0.1:${server.termPort}`, '--name', name],
            ...['--config-home', join(home, name), '--download-dir', join(home, name, 'downloads')],
            ...['--ca', join(certs.dir, 'ca.pem'), ...extra],
          ],
          { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
        )
        terminals.push(terminal)
        const session = [...ourTmuxSessions()].find((started) => !before.has(started))
        if (!session) throw new Error('the tmux session just started is not listed')
        rang[name] = join(home, `${name}.out`)
        pipePane(session, rang[name] as string)
      }
      try {
        await bob.waitFor('membership', (event) => event.members.length === 3)
        await bob.session.sendText('@alice @carol are you there?')
        for (const terminal of terminals)
          await terminal.waitFor(/bob: @alice @carol are you there\?/)
        expect(readFileSync(rang.alice as string, 'utf8')).toContain(BEL)
        expect(readFileSync(rang.carol as string, 'utf8')).not.toContain(BEL)
      } finally {
        for (const terminal of terminals) await terminal[Symbol.asyncDispose]()
      }
    },
  )
})

/** The tmux sessions this test process runs now (startTmux names them by the process id). */
function ourTmuxSessions(): Set<string> {
  const list = Bun.spawnSync(['tmux', 'list-sessions', '-F', '#{session_name}'])
  const names = new TextDecoder().decode(list.stdout).split('\n')
  return new Set(names.filter((name) => name.startsWith(`chatbox-test-${process.pid}-`)))
}

/** Copies every byte the session's pane is sent into `file`: the pane itself shows no BEL. */
function pipePane(session: string, file: string): void {
  const piped = Bun.spawnSync(['tmux', 'pipe-pane', '-o', '-t', session, `cat >> '${file}'`])
  if (piped.exitCode !== 0) throw new Error(`tmux pipe-pane failed: ${piped.stderr}`)
}

describe.skipIf(!browserAvailable())('desktop notifications on the page', () => {
  const chromium = chromiumForTests()
  beforeAll(() => mkdirSync(OUTPUT_DIR, { recursive: true }))

  test('asked for only from the button; shown for messages while the tab is hidden; off by a toggle that is remembered', async () => {
    await using server = await startTestServer()
    await using alice = await openPage(chromium.browser, server)
    const { page, context } = alice
    // Records what the page asks of the Notification API, from the first script on.
    await context.addInitScript(() => {
      const Real = window.Notification
      const record = { asked: 0, shown: [] as { title: string; body?: string }[] }
      class Recording extends Real {
        constructor(title: string, options?: NotificationOptions) {
          super(title, options)
          record.shown.push({ title, body: options?.body })
        }
        static override requestPermission(): Promise<NotificationPermission> {
          record.asked += 1
          return Real.requestPermission()
        }
      }
      Object.assign(window, { Notification: Recording, notificationRecord: record })
    })
    await page.reload()
    await joinAs(alice, 'alice')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await bob.session.sendText('can you read me?')
    await shown(page, 'can you read me?')

    // Nothing asked on load: a button asks, once clicked.
    expect(await recorded(page)).toEqual({ asked: 0, shown: [] })
    const button = page.getByRole('button', { name: 'Enable notifications' })
    await context.grantPermissions(['notifications'])
    await button.click()
    const toggle = page.getByRole('checkbox', { name: 'Notifications' })
    await toggle.waitFor()
    expect(await toggle.isChecked()).toBe(true)
    expect((await recorded(page)).asked).toBe(1)
    await page.screenshot({ path: join(OUTPUT_DIR, 'web-notifications.png') })

    // Visible: the page itself shows it; no notification.
    await bob.session.sendText('seen on the page')
    await shown(page, 'seen on the page')
    await setHidden(page, true)
    const long = `alice, the deploy of release 42 is done; ${'and then some more words '.repeat(6)}`
    await bob.session.sendText(long)
    await bob.session.sendFile({ name: 'notes.txt', bytes: new TextEncoder().encode('notes\n') })
    const shownWhileHidden = await poll(
      () => recorded(page),
      (record) => expect(record.shown).toHaveLength(2),
    )
    expect(shownWhileHidden.shown[0]?.title).toBe('bob')
    expect(shownWhileHidden.shown[0]?.body).toStartWith('alice, the deploy of release 42 is done;')
    expect(shownWhileHidden.shown[0]?.body).toEndWith('…')
    expect((shownWhileHidden.shown[0]?.body ?? '').length).toBeLessThanOrEqual(81)
    expect(shownWhileHidden.shown[1]).toEqual({ title: 'bob', body: 'sent notes.txt (6 B)' })

    // Off by the toggle: nothing more while hidden, and still off after a reload.
    await setHidden(page, false)
    await toggle.uncheck()
    await setHidden(page, true)
    await bob.session.sendText('while notifications are off')
    await shown(page, 'while notifications are off')
    expect((await recorded(page)).shown).toHaveLength(2)
    await page.reload()
    await waitUntilReady(page)
    expect(await page.getByRole('checkbox', { name: 'Notifications' }).isChecked()).toBe(false)
    expect((await recorded(page)).asked).toBe(0)
  })
})

interface NotificationRecord {
  readonly asked: number
  readonly shown: { readonly title: string; readonly body?: string }[]
}

/** What the page asked of the Notification API so far (recorded by the init script). */
function recorded(page: Page): Promise<NotificationRecord> {
  return page.evaluate(() =>
    structuredClone(
      (window as unknown as { notificationRecord: NotificationRecord }).notificationRecord,
    ),
  )
}

/** Headless tabs are always visible: stand in for the user switching tabs. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => value })
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}
