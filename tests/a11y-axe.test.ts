// axe-core over every screen of the page, in light and dark, at desktop and phone widths: the
// join form, the room (messages, a file card, the member list open), the safety-number dialog,
// the oversize-file dialog and the key-change banner. Any violation of any impact fails.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { createMemoryStores } from '../shared/client/memory-stores.ts'
import {
  type AxeViolation,
  axeViolations,
  browserAvailable,
  chromiumForTests,
  type Device,
  joinAs,
  openPage,
  PHONE,
  shown,
  waitUntilReady,
} from './support/browser.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'

// Five screens audited twice each, with a server restart, on a shared two-core machine.
setDefaultTimeout(60_000)

const encoder = new TextEncoder()
const DESKTOP: Device = { viewport: { width: 1280, height: 800 } }
const NARROW: Device = { ...PHONE, viewport: { width: 320, height: 640 } }
const DEVICES = { desktop: DESKTOP, phone: PHONE, narrow: NARROW } as const

/** Each finding as one line: rule, impact, width and theme, and where. */
function described(violations: AxeViolation[], where: string): string[] {
  return violations.map(
    (violation) =>
      `${where}: ${violation.id} (${violation.impact}) ${violation.help} — ${violation.targets.join(', ')}`,
  )
}

/** Audits the page as it stands in both themes; returns every finding, labelled. */
async function audit(page: Page, where: string): Promise<string[]> {
  const found: string[] = []
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme })
    found.push(...described(await axeViolations(page), `${where}, ${colorScheme}`))
  }
  await page.emulateMedia({ colorScheme: null })
  return found
}

/** The member list is open beside the timeline on a wide screen, a tap away on a phone. */
async function openMembers(page: Page): Promise<void> {
  const pane = page.locator('details.members-pane')
  if ((await pane.getAttribute('open')) === null) await pane.locator('summary').click()
}

describe.skipIf(!browserAvailable())('accessibility audit with axe-core', () => {
  const chromium = chromiumForTests()

  for (const [width, device] of Object.entries(DEVICES)) {
    test(`finds no violation on any screen, in light and dark, at ${width} width`, async () => {
      const maxFileBytes = 256
      const first = await startTestServer({ limits: { maxFileBytes } })
      const ports = { webPort: first.webPort, termPort: first.termPort }
      const found: string[] = []
      try {
        await using chat = await openPage(chromium.browser, first, device)
        const { page } = chat
        await page.getByLabel('Your name').waitFor()
        found.push(...(await audit(page, `join form, ${width}`)))
        await joinAs(chat, 'alice')
        {
          await using carol = await startEngineClient(first, 'carol', 'tls')
          await carol.waitFor('membership', (event) => event.members.length === 2)
          await carol.session.sendText('hello from carol, see https://example.org/notes')
          await carol.session.sendFile({
            name: 'notes.txt',
            bytes: encoder.encode('first line\nsecond line\n'),
          })
          await shown(page, 'notes.txt')
          await openMembers(page)
          await page.locator('.member', { hasText: 'carol' }).waitFor()
          found.push(...(await audit(page, `room, ${width}`)))

          await page.getByRole('button', { name: 'Compare safety numbers with carol' }).click()
          await page.locator('.safety-number').waitFor()
          found.push(...(await audit(page, `safety number, ${width}`)))
          await page.keyboard.press('Escape')

          await page.locator('input[type=file]').setInputFiles({
            name: 'big.txt',
            mimeType: 'text/plain',
            buffer: Buffer.from('x'.repeat(maxFileBytes * 2)),
          })
          await page.getByRole('heading', { name: 'This file is too large' }).waitFor()
          found.push(...(await audit(page, `oversize file, ${width}`)))
          await page.keyboard.press('Escape')
        }
        // A changed key: the server lost carol's binding (a fresh server on the same ports), and
        // someone else joins as carol.
        await first.stop()
        await using second = await startTestServer({ ...ports, limits: { maxFileBytes } })
        await waitUntilReady(page)
        await using _impostor = await startEngineClient(second, 'carol', 'tls', {
          stores: createMemoryStores(),
          waitForGroup: false,
        })
        await page.locator('.banner.danger').waitFor()
        await page.locator('.member .tag.danger').waitFor()
        found.push(...(await audit(page, `key-change banner, ${width}`)))
      } finally {
        await first.stop().catch(() => {})
      }
      expect(found).toEqual([])
    })
  }
})
