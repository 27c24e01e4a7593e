// One person on several devices, in real Chromium with the real server: a page linked by the code
// it shows (typed on another page, or as /link in the terminal), the terminal linked from a page,
// messages reaching every device and shown as one's own on the others, a code that ran out, and
// a device unlinked from another and locked out. Screenshots go to /tmp/shots/ to be looked at.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import {
  axeViolations,
  browserAvailable,
  type ChatPage,
  chromiumForTests,
  type Device,
  openChat,
  openPage,
  PHONE,
  poll,
  say,
  shown,
  waitUntilReady,
} from './support/browser.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'
import { spawnTerm } from './support/term.ts'

// Real servers, MLS in two or three clients at once, on a shared two-core machine.
setDefaultTimeout(90_000)

const SHOTS = '/tmp/shots'
const NARROW: Device = { ...PHONE, viewport: { width: 320, height: 640 } }

/** Asks to join as another device of `name`; resolves with the code the page then shows. */
async function askToLink(chat: ChatPage, name: string): Promise<string> {
  const { page } = chat
  await page.getByLabel('Your name').fill(name)
  await page.getByLabel('Link to an identity I already use').check()
  await page.getByRole('button', { name: 'Get a link code' }).click()
  return shownCode(page)
}

/** The code on the waiting screen, its groups joined as the engine gives them. */
async function shownCode(page: Page): Promise<string> {
  const groups = page.locator('.link-code [aria-hidden] span')
  await groups.first().waitFor()
  return (await groups.allTextContents()).join('-')
}

/** The header's "Link a device", behind the Menu button where the header has no room for it. */
async function openLinkDialog(page: Page) {
  const toggle = page.locator('.menu-toggle')
  if (await toggle.isVisible()) await toggle.click()
  await page.getByRole('button', { name: 'Link a device' }).click()
  const dialog = page.getByRole('dialog', { name: 'Link a device' })
  await dialog.locator('.device-list').waitFor()
  return dialog
}

/** Types a code into the open dialog and approves it; resolves with what the dialog then says. */
async function approve(page: Page, code: string): Promise<string> {
  const dialog = page.getByRole('dialog', { name: 'Link a device' })
  const outcome = dialog.locator('#link-device-outcome')
  const before = await outcome.textContent()
  await dialog.getByLabel('Link code').fill(code)
  await dialog.getByRole('button', { name: 'Approve' }).click()
  // The outcome empties while asking, then says how it went.
  return poll(
    () => outcome.textContent().then((text) => text ?? ''),
    (text) => expect(text !== '' && text !== before).toBe(true),
  )
}

/** Closes the open dialog by Escape, as a reader would. */
async function closeDialog(page: Page): Promise<void> {
  await page.keyboard.press('Escape')
  await page.getByRole('dialog').waitFor({ state: 'hidden' })
}

function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  )
}

async function expectNoAxeViolations(page: Page): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme })
    expect(await axeViolations(page)).toEqual([])
  }
  await page.emulateMedia({ colorScheme: null })
}

describe.skipIf(!browserAvailable())('one person on several devices, in the page', () => {
  const chromium = chromiumForTests()

  test('a page linked by the code it shows reads what bob sends, and sends as her', async () => {
    mkdirSync(SHOTS, { recursive: true })
    await using server = await startTestServer()
    await using laptop = await openChat(chromium.browser, server, 'alice')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await using phone = await openPage(chromium.browser, server)

    const code = await askToLink(phone, 'alice')
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/)
    const waiting = phone.page.locator('.link-waiting')
    expect(await waiting.textContent()).toContain(
      `On a device where you are alice, choose Link a device and type this code, or type /link ${code} in the terminal.`,
    )
    expect(await waiting.getByRole('timer').textContent()).toMatch(/for [45]:\d\d more/)
    // The heading has focus, so a screen reader goes on to the code, spelled out.
    expect(await phone.page.evaluate(() => document.activeElement?.textContent)).toBe(
      'Approve this browser as alice',
    )
    expect(await waiting.locator('.visually-hidden').textContent()).toBe(
      `Link code: ${code
        .split('-')
        .map((group) => [...group].join(' '))
        .join(', ')}`,
    )
    await phone.page.screenshot({ path: join(SHOTS, 'link-waiting.png') })
    await expectNoAxeViolations(phone.page)

    const dialog = await openLinkDialog(laptop.page)
    expect(await dialog.locator('.device').count()).toBe(1)
    // The code field has focus on opening: the code can be typed at once.
    expect(await laptop.page.evaluate(() => document.activeElement?.id)).toBe('link-code-input')
    expect(await approve(laptop.page, code)).toBe(
      'Linked. You now have 2 devices; the new one joins the room in a moment.',
    )
    const rows = dialog.locator('.device')
    expect(await rows.count()).toBe(2)
    expect(await rows.nth(0).locator('.tag').allTextContents()).toEqual([
      'this device',
      'first device',
    ])
    expect(
      await rows
        .nth(1)
        .getByRole('button', { name: /^Unlink the device/ })
        .count(),
    ).toBe(1)
    await laptop.page.screenshot({ path: join(SHOTS, 'link-dialog.png') })
    await expectNoAxeViolations(laptop.page)
    await closeDialog(laptop.page)
    // Focus goes back to what opened the dialog, a task after it closed.
    await poll(
      () => laptop.page.evaluate(() => document.activeElement?.textContent),
      (focused) => expect(focused).toBe('Link a device'),
    )

    await waitUntilReady(phone.page)
    await phone.page
      .locator('.entry.notice', { hasText: 'A device of yours approved this one' })
      .waitFor()
    await bob.waitFor('membership', (event) => event.added.includes('alice'))

    await bob.session.sendText('hello to both of you')
    for (const chat of [laptop, phone]) {
      expect(await (await shown(chat.page, 'hello to both')).locator('.from').textContent()).toBe(
        'bob',
      )
    }
    await say(phone.page, 'sent from my phone')
    const onLaptop = await shown(laptop.page, 'sent from my phone')
    expect(await onLaptop.locator('.from').textContent()).toBe('You')
    expect(await onLaptop.getAttribute('class')).toContain('own')
    expect((await bob.waitFor('message', (m) => m.text === 'sent from my phone')).from).toBe(
      'alice',
    )

    // alice is one person in the list, with her two devices under her, both online.
    const alice = laptop.page.locator('.member', { hasText: 'alice' })
    await poll(
      () => alice.locator('.member-devices > li').allTextContents(),
      (devices) => {
        expect(devices).toHaveLength(2)
        expect(devices[0]).toContain('this device')
        for (const device of devices) expect(device).toContain('online')
      },
    )
    expect(await laptop.page.locator('.members > .member').count()).toBe(2)
    await expectNoAxeViolations(laptop.page)
    expect(bob.events.filter((event) => event.type === 'key-change')).toEqual([])
    expect([...laptop.errors, ...phone.errors]).toEqual([])
  })

  test('at 320 px: a code that ran out says so, a new one is one key away, refusals in words', async () => {
    mkdirSync(SHOTS, { recursive: true })
    await using server = await startTestServer({ limits: { linkCodeMs: 3_000 } })
    await using laptop = await openChat(chromium.browser, server, 'alice', NARROW)
    await using phone = await openPage(chromium.browser, server, NARROW)

    const first = await askToLink(phone, 'alice')
    expect(await sidewaysOverflow(phone.page)).toBe(0)
    await phone.page.screenshot({ path: join(SHOTS, 'link-waiting-320.png') })
    const alert = phone.page.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).toBe(
      'No device approved this browser before its code ran out. Get a new code to try again.',
    )
    // Back on the form with the choice kept, and focus on the button that asks again.
    expect(await phone.page.getByLabel('Link to an identity I already use').isChecked()).toBe(true)
    await poll(
      () => phone.page.evaluate(() => document.activeElement?.textContent),
      (focused) => expect(focused).toBe('Get a link code'),
    )

    const dialog = await openLinkDialog(laptop.page)
    expect(await sidewaysOverflow(laptop.page)).toBe(0)
    expect(await dialog.evaluate((element) => element.scrollWidth - element.clientWidth)).toBe(0)
    expect(await approve(laptop.page, 'not a code')).toBe(
      'That is not a link code: it is three groups of four letters and digits.',
    )
    expect(await approve(laptop.page, first)).toBe(
      'No new device of yours shows that code: check it for typos. A code works once, for 5 minutes.',
    )
    await laptop.page.screenshot({ path: join(SHOTS, 'link-dialog-320.png') })
    await expectNoAxeViolations(laptop.page)

    await phone.page.keyboard.press('Enter')
    const second = await shownCode(phone.page)
    expect(second).not.toBe(first)
    // Typed as a person might: lower case, spaces for dashes.
    expect(await approve(laptop.page, second.toLowerCase().replaceAll('-', ' '))).toContain(
      'Linked.',
    )
    await waitUntilReady(phone.page)
    expect(await sidewaysOverflow(phone.page)).toBe(0)
  })

  test('unlinked by keyboard from another page, a page is locked out and can be linked anew', async () => {
    await using server = await startTestServer()
    await using laptop = await openChat(chromium.browser, server, 'alice')
    await using phone = await openPage(chromium.browser, server)
    await openLinkDialog(laptop.page)
    // Cancel gives the code up, back to the form: asking again is one key away.
    const cancelled = await askToLink(phone, 'alice')
    await phone.page.getByRole('button', { name: 'Cancel' }).click()
    await poll(
      () => phone.page.evaluate(() => document.activeElement?.textContent),
      (focused) => expect(focused).toBe('Get a link code'),
    )
    expect(await phone.page.getByRole('alert').count()).toBe(0)
    await phone.page.keyboard.press('Enter')
    const code = await shownCode(phone.page)
    expect(code).not.toBe(cancelled)
    expect(await approve(laptop.page, cancelled)).toContain(
      'No new device of yours shows that code',
    )
    await approve(laptop.page, code)
    await waitUntilReady(phone.page)

    const { page } = laptop
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim())
    await page.getByRole('button', { name: /^Unlink the device/ }).focus()
    await page.keyboard.press('Enter')
    // Keep it has focus: a stray Enter keeps the device.
    await poll(focused, (name) => expect(name).toBe('Keep it'))
    await page.keyboard.press('Enter')
    await poll(focused, (name) => expect(name).toMatch(/^Unlink the device/))
    await page.keyboard.press('Enter')
    await poll(focused, (name) => expect(name).toBe('Keep it'))
    await page.keyboard.press('Shift+Tab')
    expect(await focused()).toBe('Unlink it')
    await page.keyboard.press('Enter')
    await poll(focused, (name) => expect(name).toMatch(/^Unlinked the device [0-9a-f]{4} /))
    expect(await page.locator('.device').count()).toBe(1)

    const banner = phone.page.locator('.banner.danger', { hasText: 'unlinked this one' })
    await banner.waitFor()
    await poll(
      () => phone.page.locator('.status').getAttribute('data-status'),
      (status) => expect(status).toBe('closed'),
    )
    await closeDialog(page)
    await say(laptop.page, 'after the phone was unlinked')
    await shown(laptop.page, 'after the phone was unlinked')

    // What it kept for alice is forgotten; a reload no longer rejoins; a new key is linked anew.
    await banner.getByRole('button', { name: 'Forget this browser’s key for alice' }).click()
    await phone.page.getByLabel('Your name').waitFor()
    expect(await phone.page.getByLabel('Link to an identity I already use').isChecked()).toBe(true)
    await phone.page.reload()
    await phone.page.getByLabel('Your name').waitFor()
    const again = await askToLink(phone, 'alice')
    await openLinkDialog(page)
    expect(await approve(page, again)).toBe(
      'Linked. You now have 2 devices; the new one joins the room in a moment.',
    )
    await waitUntilReady(phone.page)
    await say(phone.page, 'back with a new key')
    await shown(laptop.page, 'back with a new key')
  })
})

describe.skipIf(!browserAvailable())('one person in the page and the terminal', () => {
  const chromium = chromiumForTests()

  test('the terminal links the page by /link; each sees the other as her own; it unlinks the page', async () => {
    await using server = await startTestServer()
    await using term = await spawnTerm(server, { name: 'alice', args: ['--verbose'] })
    await term.waitForLine(/^-- ready/)
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await using phone = await openPage(chromium.browser, server)
    const code = await askToLink(phone, 'alice')
    term.send(`/link ${code}`)
    await term.waitForLine(new RegExp(`the device that showed ${code} is linked`))
    await waitUntilReady(phone.page)

    await bob.session.sendText('to every alice')
    await shown(phone.page, 'to every alice')
    await term.waitForLine(/bob: to every alice/)
    term.send('typed in the terminal')
    const fromTerm = await shown(phone.page, 'typed in the terminal')
    expect(await fromTerm.locator('.from').textContent()).toBe('You')
    await say(phone.page, 'typed in the page')
    expect((await bob.waitFor('message', (m) => m.text === 'typed in the page')).from).toBe('alice')
    await term.waitForLine(/typed in the page/)

    term.send('/devices')
    await term.waitForLine(/this device/)
    term.send('/unlink 2')
    await term.waitForLine(/is unlinked: it is put out and refused as alice/)
    await phone.page.locator('.banner.danger', { hasText: 'unlinked this one' }).waitFor()
    expect([...phone.errors]).toEqual([])
  })

  test('the page links the terminal by its code, and unlinking it puts it out', async () => {
    await using server = await startTestServer()
    await using laptop = await openChat(chromium.browser, server, 'alice')
    await using term = await spawnTerm(server, {
      name: 'alice',
      args: ['--link-device', '--verbose'],
    })
    const line = await term.waitForLine(/^link code: /)
    const code = line.replace(/^link code: /, '').trim()
    await openLinkDialog(laptop.page)
    expect(await approve(laptop.page, code)).toContain('Linked.')
    await term.waitForLine(/approved this one/)
    // In the group once it can send: what it sends reaches the page, as her own.
    await term.waitForLine(/^-- ready/)
    term.send('from the terminal')
    expect(
      await (await shown(laptop.page, 'from the terminal')).locator('.from').textContent(),
    ).toBe('You')
    await closeDialog(laptop.page)
    await say(laptop.page, 'from the page')
    await term.waitForLine(/from the page/)

    await openLinkDialog(laptop.page)
    await laptop.page.getByRole('button', { name: /^Unlink the device/ }).click()
    await laptop.page.getByRole('button', { name: 'Unlink it' }).click()
    await laptop.page.locator('#link-device-outcome', { hasText: 'Unlinked the device' }).waitFor()
    await term.waitForLine(/unlinked/i)
  })
})
