// The page's history in this browser, end to end in real Chromium: kept sealed in IndexedDB,
// shown after a reload before the live timeline with its separators, cleared by the button; and
// how long a reload takes to show 100 and 10,000 kept messages.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { EARLIER_FIRST, EARLIER_MORE } from '../apps/web/lib/earlier.ts'
import { databaseName } from '../shared/client/indexeddb-stores.ts'
import {
  browserAvailable,
  launchBrowser,
  openChat,
  poll,
  say,
  shown,
  type TestBrowser,
  waitUntilReady,
} from './support/browser.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer, testCertificates } from './support/harness.ts'

setDefaultTimeout(60_000)

const OUTPUT_DIR = join(import.meta.dir, '..', 'test-output')

interface RawDatabase {
  storeNames: string[]
  everything: string
  historyRows: number
  sealedBytes: number
  keys: { type: string; extractable?: boolean; algorithm?: string }[]
}

/** The seeding and raw-reading helpers, bundled once, run in the page's own origin. */
let fixture: string
async function useFixture(page: Page): Promise<void> {
  if (!(await page.evaluate(() => 'rawDatabase' in globalThis))) await page.evaluate(fixture)
}

async function rawDatabase(page: Page, name: string): Promise<RawDatabase> {
  await useFixture(page)
  return page.evaluate(
    (database) =>
      (globalThis as unknown as { rawDatabase(name: string): Promise<RawDatabase> }).rawDatabase(
        database,
      ),
    databaseName(name),
  )
}

/** What the timeline lists, one line per entry: separators, messages, files, notices. */
function timelineLines(page: Page): Promise<string[]> {
  return page
    .locator('.timeline > li')
    .evaluateAll((items) =>
      items.map((item) =>
        item.classList.contains('separator')
          ? `—— ${item.querySelector('span')?.textContent} ——`
          : (item.textContent ?? '').replace(/\s+/g, ' ').trim(),
      ),
    )
}

describe.skipIf(!browserAvailable())('history in the browser', () => {
  let chromium: TestBrowser
  let browser: Browser

  beforeAll(async () => {
    chromium = await launchBrowser((await testCertificates()).cert)
    browser = chromium.browser
    const built = await Bun.build({
      entrypoints: [join(import.meta.dir, 'fixtures', 'history-seed-fixture.ts')],
      target: 'browser',
      format: 'iife',
    })
    const bundle = await built.outputs[0]?.text()
    if (!built.success || bundle === undefined) throw new Error(`bundle failed: ${built.logs}`)
    fixture = bundle
  }, 30_000)

  afterAll(async () => {
    await chromium?.[Symbol.asyncDispose]()
  })

  test('a reload shows the kept messages before the live ones, sealed at rest, until cleared', async () => {
    await using server = await startTestServer()
    await using alice = await openChat(browser, server, 'alice')
    await using carol = await startEngineClient(server, 'carol', 'tls')
    await carol.waitFor('membership', (event) => event.members.includes('alice'))
    await carol.session.sendText('the soup needs more basil')
    await shown(alice.page, 'more basil')
    await say(alice.page, 'I will bring some tomorrow')
    await carol.waitFor('message', (event) => event.text === 'I will bring some tomorrow')
    await carol.session.sendFile({
      name: 'shopping-list.txt',
      bytes: new TextEncoder().encode('basil\nparmesan\npine nuts\n'),
    })
    await shown(alice.page, 'shopping-list.txt')

    // Kept as it was shown: three rows, none of them readable, under a key nobody can export.
    const raw = await poll(
      () => rawDatabase(alice.page, 'alice'),
      (database) => expect(database.historyRows).toBe(3),
    )
    expect(raw.keys).toEqual([{ type: 'CryptoKey', extractable: false, algorithm: 'AES-GCM' }])
    for (const plain of ['basil', 'tomorrow', 'shopping-list', 'parmesan', 'pine nuts']) {
      expect(raw.everything).not.toContain(plain)
    }

    await alice.page.reload()
    await waitUntilReady(alice.page)
    await alice.page.locator('.notice', { hasText: 'Back in the room' }).waitFor()
    await carol.session.sendText('see you then')
    await shown(alice.page, 'see you then')
    const lines = await timelineLines(alice.page)
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line))
    const order = [
      at(/^—— Earlier messages on this device ——$/),
      at(/carol.*the soup needs more basil/),
      at(/You.*I will bring some tomorrow/),
      at(/shopping-list\.txt/),
      at(/^—— New session ——$/),
      at(/see you then/),
    ]
    expect({ lines, found: order.every((index) => index >= 0) }).toMatchObject({ found: true })
    expect(order).toEqual([...order].sort((a, b) => a - b))
    mkdirSync(OUTPUT_DIR, { recursive: true })
    await alice.page.screenshot({ path: join(OUTPUT_DIR, 'web-history.png') })

    // Clearing asks first; Cancel keeps everything.
    await alice.page.getByRole('button', { name: 'Clear history' }).click()
    const dialog = alice.page.getByRole('dialog', { name: 'Clear history?' })
    await dialog.waitFor()
    await alice.page.screenshot({ path: join(OUTPUT_DIR, 'web-history-clear.png') })
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'hidden' })
    expect((await rawDatabase(alice.page, 'alice')).historyRows).toBe(4)
    await alice.page.getByRole('button', { name: 'Clear history' }).click()
    await dialog.getByRole('button', { name: 'Clear history' }).click()
    await alice.page.locator('.notice', { hasText: '4 messages forgotten' }).waitFor()
    expect(await timelineLines(alice.page)).toEqual([
      expect.stringContaining('History on this device cleared: 4 messages forgotten'),
    ])
    expect((await rawDatabase(alice.page, 'alice')).historyRows).toBe(0)

    await alice.page.reload()
    await waitUntilReady(alice.page)
    await alice.page.locator('.notice', { hasText: 'Back in the room' }).waitFor()
    expect(await alice.page.locator('.separator').count()).toBe(0)
  })

  test('a reload shows 100 and 10,000 kept messages, newest page first (timed)', async () => {
    await using server = await startTestServer()
    await using alice = await openChat(browser, server, 'alice')
    // From the start of each navigation to the "New session" line on screen, in the page's time.
    // And to the room being ready, which the history waits for: the part that is not history.
    await alice.page.addInitScript(() => {
      const seen: Record<string, number> = {}
      Object.assign(globalThis, { seen })
      const observer = new MutationObserver(() => {
        const separators = [...document.querySelectorAll('.separator')]
        if (separators.some((line) => line.textContent?.includes('New session'))) {
          seen.history ??= performance.now()
        }
        if (document.querySelector('.status[data-status="ready"]')) seen.ready ??= performance.now()
        if (seen.history !== undefined && seen.ready !== undefined) observer.disconnect()
      })
      observer.observe(document, { childList: true, subtree: true, attributes: true })
    })
    await useFixture(alice.page)
    const figures: Record<string, number> = {}
    for (const count of [100, 10_000]) {
      await useFixture(alice.page)
      await alice.page.evaluate(
        ([name, seeded, now]) =>
          (
            globalThis as unknown as {
              seedHistory(name: string, count: number, now: number): Promise<number>
            }
          ).seedHistory(name, seeded, now),
        ['alice', count, Date.now()] as const,
      )
      const raw = await rawDatabase(alice.page, 'alice')
      // Sealed as a rewrite leaves them: many to a block.
      expect(raw.historyRows).toBeGreaterThan(0)
      expect(raw.historyRows).toBeLessThan(count)
      figures[`sealed bytes per 1000 messages (${count})`] = Math.round(
        (raw.sealedBytes / count) * 1000,
      )
      await alice.page.evaluate(
        (messages) => localStorage.setItem('chatbox:history', JSON.stringify({ messages })),
        count,
      )
      await alice.page.reload()
      await alice.page
        .locator('.separator', { hasText: 'New session' })
        .waitFor({ timeout: 60_000 })
      await waitUntilReady(alice.page)
      const seen = await alice.page.evaluate(
        () => (globalThis as unknown as { seen: { history: number; ready: number } }).seen,
      )
      figures[`reload to history shown, ${count} messages (ms)`] = Math.round(seen.history)
      figures[`reload to room ready, ${count} messages (ms)`] = Math.round(seen.ready)
      // The newest page at first, the rest a page at a click.
      const entries = alice.page.locator('.timeline > li.entry:not(.notice)')
      expect(await entries.count()).toBe(Math.min(count, EARLIER_FIRST))
      const more = alice.page.getByRole('button', { name: /^Show earlier messages/ })
      if (count > EARLIER_FIRST) {
        const hidden = count - EARLIER_FIRST
        expect(await more.textContent()).toContain(`${hidden.toLocaleString('en')} more`)
        await more.click()
        await poll(
          () => entries.count(),
          (shown) => expect(shown).toBe(EARLIER_FIRST + Math.min(hidden, EARLIER_MORE)),
        )
        // Oldest first, the rest after: the first on the list is now an older one.
        expect(await entries.first().textContent()).toContain(
          `seeded message ${Math.max(0, hidden - EARLIER_MORE)}:`,
        )
      } else {
        expect(await more.count()).toBe(0)
      }
    }
    console.log(JSON.stringify(figures, null, 2))
  })
})
