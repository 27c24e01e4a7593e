// The page at 320 px and at 200 % zoom: nothing scrolls sideways, the header keeps its title and
// buttons on one row with the secondary actions in a keyboard-operable menu, and motion stops for
// those who ask. Screenshots go to /tmp/a11y-shots/ to be looked at.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import {
  browserAvailable,
  chromiumForTests,
  type Device,
  joinAs,
  openPage,
  PHONE,
  poll,
  shown,
} from './support/browser.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'

// Real servers and MLS in Chromium on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(60_000)

const SHOTS = '/tmp/a11y-shots'
const encoder = new TextEncoder()
/** 320 CSS pixels: the narrowest screen WCAG's reflow criterion asks for. */
const NARROW: Device = { ...PHONE, viewport: { width: 320, height: 640 } }
/** A 1280 × 800 screen at 200 % zoom: 640 × 400 CSS pixels, each drawn twice as large. */
const ZOOMED: Device = { viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 }

/** How far the page scrolls sideways: 0 when everything fits its width. */
function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  )
}

/** The vertical middle of an element, to tell whether two sit on one row. */
async function middleOf(page: Page, selector: string): Promise<number> {
  const box = await page.locator(selector).first().boundingBox()
  if (!box) throw new Error(`${selector} is not on the page`)
  return box.y + box.height / 2
}

function focusedText(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.textContent?.trim() ?? '')
}

describe.skipIf(!browserAvailable())('the page at 320 px and at 200 % zoom', () => {
  const chromium = chromiumForTests()

  for (const [label, device] of [
    ['320px', NARROW],
    ['zoom200', ZOOMED],
  ] as const) {
    test(`scrolls no page sideways at ${label}, header on one row, menu by keyboard`, async () => {
      mkdirSync(SHOTS, { recursive: true })
      await using server = await startTestServer({ limits: { maxFileBytes: 256 } })
      await using chat = await openPage(chromium.browser, server, device)
      const { page } = chat
      const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${label}-${name}.png`) })

      await page.getByLabel('Your name').waitFor()
      expect(await sidewaysOverflow(page)).toBe(0)
      await shot('join')
      await joinAs(chat, 'alice')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await carol.waitFor('membership', (event) => event.members.length === 2)
      await carol.session.sendText(
        `a long line without breaks: ${'x'.repeat(120)} and https://example.org/${'y'.repeat(80)}`,
      )
      await carol.session.sendFile({
        name: `a-very-long-file-name-${'z'.repeat(60)}.txt`,
        bytes: encoder.encode(`${'w'.repeat(200)}\nsecond line\n`),
      })
      await shown(page, 'second line')
      expect(await sidewaysOverflow(page)).toBe(0)

      // Title, Menu and Leave share one row.
      const title = await middleOf(page, '.room-header h1')
      expect(Math.abs((await middleOf(page, '.menu-toggle')) - title)).toBeLessThan(4)
      expect(Math.abs((await middleOf(page, '.leave')) - title)).toBeLessThan(4)
      await shot('room')
      for (const scheme of ['dark', 'light'] as const) {
        await page.emulateMedia({ colorScheme: scheme })
        await shot(`room-${scheme}`)
      }
      await page.emulateMedia({ colorScheme: null })

      // The menu: Enter opens it on its first item, arrows move, Escape closes onto its button.
      const toggle = page.locator('.menu-toggle')
      await toggle.focus()
      await page.keyboard.press('Enter')
      expect(await toggle.getAttribute('aria-expanded')).toBe('true')
      expect(await focusedText(page)).toBe('Clear history')
      expect(await sidewaysOverflow(page)).toBe(0)
      await shot('menu')
      await page.keyboard.press('ArrowDown')
      expect(await focusedText(page)).toBe('Back up my key')
      await page.keyboard.press('Escape')
      expect(await toggle.getAttribute('aria-expanded')).toBe('false')
      expect(await focusedText(page)).toBe('Menu')

      // An item's dialog closes back onto the menu's button, its item being hidden by then.
      await page.keyboard.press('Enter')
      await page.keyboard.press('ArrowDown')
      await page.keyboard.press('Enter')
      await page.getByRole('dialog', { name: 'Back up my key' }).waitFor()
      expect(await toggle.getAttribute('aria-expanded')).toBe('false')
      await shot('backup-dialog')
      await page.keyboard.press('Escape')
      await page.getByRole('dialog').waitFor({ state: 'hidden' })
      // Focus goes back when the page hears the dialog closed, a task after it hid.
      await poll(
        () => focusedText(page),
        (focused) => expect(focused).toBe('Menu'),
      )

      // The member list and a safety number fit too.
      const pane = page.locator('details.members-pane')
      if ((await pane.getAttribute('open')) === null) await pane.locator('summary').click()
      await page.getByRole('button', { name: 'Compare safety numbers with carol' }).click()
      await page.locator('.safety-number').waitFor()
      expect(await sidewaysOverflow(page)).toBe(0)
      expect(
        await page
          .getByRole('dialog')
          .evaluate((dialog) => dialog.scrollWidth - dialog.clientWidth),
      ).toBe(0)
      await shot('safety-number')
      await page.keyboard.press('Escape')
      await page.getByRole('dialog').waitFor({ state: 'hidden' })
      await shot('members')
      expect(await sidewaysOverflow(page)).toBe(0)
      expect(chat.errors).toEqual([])
    })
  }

  // Between the phone's layout and a wide screen the header's buttons once wrapped wherever they
  // ran out of room. Now: the title, the menu (its items, or its button) and Leave on one row, the
  // status and the room code on the next, at every width.
  test('keeps the header in its two rows at every desktop width', async () => {
    mkdirSync(SHOTS, { recursive: true })
    await using server = await startTestServer()
    await using chat = await openPage(chromium.browser, server)
    const { page } = chat
    await joinAs(chat, 'alice')
    await page.locator('.room-code').waitFor()
    const middles = (selector: string) =>
      page.locator(selector).evaluateAll((elements) =>
        elements.map((element) => {
          const box = element.getBoundingClientRect()
          return box.top + box.height / 2
        }),
      )
    for (const width of [768, 900, 1024, 1100, 1280, 1440, 1920]) {
      await page.setViewportSize({ width, height: 720 })
      await page.screenshot({ path: join(SHOTS, `header-${width}.png`) })
      const title = await middleOf(page, '.room-header h1')
      const first = await middles('.room-header :is(button, .notify):visible')
      expect(first.length).toBeGreaterThanOrEqual(2)
      for (const middle of first) expect(Math.abs(middle - title)).toBeLessThan(6)
      const [status = 0, code = 0] = await middles('.room-header :is(.status, .room-code)')
      expect(Math.abs(code - status)).toBeLessThan(6)
      expect(status - title).toBeGreaterThan(12)
      expect(await sidewaysOverflow(page)).toBe(0)
    }
  })

  test('stops transitions for a reader who asks for reduced motion', async () => {
    await using server = await startTestServer()
    await using chat = await openPage(chromium.browser, server)
    const { page } = chat
    const transition = () =>
      page
        .getByRole('button', { name: 'Join the room' })
        .evaluate((button) => getComputedStyle(button).transitionDuration)
    await page.emulateMedia({ reducedMotion: 'no-preference' })
    await poll(transition, (duration) => expect(duration).toBe('0.15s'))
    await page.emulateMedia({ reducedMotion: 'reduce' })
    await poll(transition, (duration) => expect(duration).toBe('0s'))
  })
})
