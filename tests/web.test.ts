import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, readFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import type { Browser, Locator, Page } from 'playwright-core'
import type { ClientState } from 'ts-mls'
import * as v from 'valibot'
import { buildWebClient } from '../apps/web/build.ts'
import { createMemoryStores } from '../shared/client/memory-stores.ts'
import {
  browserAvailable,
  entryWith,
  joinAs,
  launchBrowser,
  openChat,
  openPage,
  PHONE,
  pageUrl,
  poll,
  say,
  shown,
  type TestBrowser,
  waitUntilReady,
} from './support/browser.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer, testCertificates } from './support/harness.ts'
import { startHostileMember } from './support/hostile-member.ts'
import { ghostWelcome } from './support/hostile-mls.ts'
import { spawnTerm } from './support/term.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const OUTPUT_DIR = joinPath(import.meta.dir, '..', 'test-output')
const MARKUP = '<img src=x onerror=alert(1)>'
const encoder = new TextEncoder()
/** A browser test takes 1–3 s here; the margin is for slow CI machines. */
const BROWSER_TEST_MS = 20_000

describe('the web client bundle', () => {
  test('has no inline script or style, stays small, and pulls in nothing from Node or Bun', async () => {
    const assets = await buildWebClient()
    const html = new TextDecoder().decode(assets.get('/')?.body)
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i)
    expect(html).not.toMatch(/<style/i)
    expect(html).not.toMatch(/\sstyle=/i)
    const scripts = [...assets.values()].filter((asset) => asset.contentType.includes('javascript'))
    expect(scripts).toHaveLength(1)
    const script = scripts[0]?.body ?? new Uint8Array()
    // Without the crypto alias a ~390 KB node:crypto polyfill would be inlined. The page is ~352 KB
    // with the devices' screens; the bound leaves room to grow, not room for that polyfill.
    expect(script.length).toBeLessThan(380_000)
    const text = new TextDecoder().decode(script)
    expect(text).not.toMatch(/["'](node:[a-z]+|bun:[a-z]+|bun)["']/)
    expect(text).not.toContain('innerHTML=`')
  })

  test('is built on a worker thread: the same files, and none of the build left in the server heap', async () => {
    // A fresh process, so nothing else this test file loaded is counted.
    const script = `
      import { heapStats } from 'bun:jsc'
      import { webClientAssets } from '${new URL('../apps/web/build.ts', import.meta.url).pathname}'
      const assets = await webClientAssets()
      Bun.gc(true)
      const files = [...assets].map(([path, asset]) => [path, asset.contentType, asset.body.length])
      console.log(JSON.stringify({ heapBytes: heapStats().heapSize, files }))
    `
    const child = Bun.spawn(['bun', '-e', script], { stdout: 'pipe', stderr: 'inherit' })
    expect(await child.exited).toBe(0)
    const { heapBytes, files } = v.parse(
      v.object({ heapBytes: v.number(), files: v.array(v.array(v.unknown())) }),
      JSON.parse(await new Response(child.stdout).text()),
    )
    const direct = await buildWebClient()
    expect(files.sort()).toEqual(
      [...direct].map(([path, asset]) => [path, asset.contentType, asset.body.length]).sort(),
    )
    // Built in the server's own heap, Babel and the bundler left ~15 MB there.
    expect(heapBytes).toBeLessThan(4 * 1024 * 1024)
  })

  test('is served with the security headers and the server limits the page needs', async () => {
    await using server = await startTestServer({ limits: { maxFileBytes: 4096 } })
    const page = await fetch(pageUrl(server), { tls: { ca: server.ca } })
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await page.text()
    const script = html.match(/<script[^>]*src="\.?(\/[^"]+)"/)?.[1]
    expect(script).toBeDefined()
    const asset = await fetch(new URL(script ?? '/', pageUrl(server)), { tls: { ca: server.ca } })
    expect(asset.headers.get('content-type')).toContain('javascript')
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff')
    expect(asset.headers.get('cache-control')).toContain('immutable')
    const config = await fetch(new URL('/client.json', pageUrl(server)), { tls: { ca: server.ca } })
    expect(await config.json()).toEqual({ maxFileBytes: 4096 })
  })
})

describe.skipIf(!browserAvailable())('the web client in Chromium', () => {
  let chromium: TestBrowser
  let browser: Browser

  beforeAll(async () => {
    chromium = await launchBrowser((await testCertificates()).cert)
    browser = chromium.browser
  }, BROWSER_TEST_MS)

  afterAll(async () => {
    await chromium?.[Symbol.asyncDispose]()
  }, BROWSER_TEST_MS)

  test(
    'two pages and a terminal client exchange messages and files, both ways',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using bob = await openChat(browser, server, 'bob')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await carol.waitFor('membership', (event) => event.members.length === 3)
      await expectMembersInGroup(alice.page, 3)
      await expectMembersInGroup(bob.page, 3)

      await say(alice.page, 'hello from alice')
      expect(await (await shown(bob.page, 'hello from alice')).locator('.from').textContent()).toBe(
        'alice',
      )
      expect(await entryWith(alice.page, 'hello from alice').getAttribute('class')).toContain('own')
      expect((await carol.waitFor('message', (m) => m.text === 'hello from alice')).from).toBe(
        'alice',
      )

      // Shift+Enter is a new line, Enter sends.
      const composer = bob.page.getByLabel('Message', { exact: true })
      await composer.pressSequentially('two lines')
      await composer.press('Shift+Enter')
      await composer.pressSequentially('from bob')
      await composer.press('Enter')
      expect((await carol.waitFor('message', (m) => m.from === 'bob')).text).toBe(
        'two lines\nfrom bob',
      )
      await poll(
        () => composer.inputValue(),
        (value) => expect(value).toBe(''),
      )

      await carol.session.sendText('hello from the terminal')
      for (const page of [alice.page, bob.page]) {
        expect(
          await entryWith(page, 'hello from the terminal').locator('.from').textContent(),
        ).toBe('carol')
      }

      // Browser → terminal and browser: a file picked in bob's page.
      const notes = 'first line\nsecond line\n'
      await bob.page
        .locator('input[type=file]')
        .setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(notes) })
      const received = await carol.waitFor('file', (file) => file.from === 'bob')
      expect(received).toMatchObject({ name: 'notes.txt', truncated: false })
      expect(received.bytes).toEqual(encoder.encode(notes))
      expect(
        await entryWith(alice.page, 'notes.txt').locator('.file-preview').textContent(),
      ).toContain('second line')

      // Dropped on the page rather than picked.
      const dropped = await alice.page.evaluateHandle(() => {
        const transfer = new DataTransfer()
        transfer.items.add(new File(['dropped text\n'], 'dropped.txt', { type: 'text/plain' }))
        return transfer
      })
      await alice.page.locator('.room').dispatchEvent('dragover', { dataTransfer: dropped })
      await alice.page.locator('.room').dispatchEvent('drop', { dataTransfer: dropped })
      const droppedFile = await carol.waitFor('file', (file) => file.name === 'dropped.txt')
      expect(new TextDecoder().decode(droppedFile.bytes)).toBe('dropped text\n')

      // Terminal → browsers: shown with size and first lines, saved by the download button.
      const report = Array.from({ length: 20 }, (_, index) => `line ${index + 1}`).join('\n')
      await carol.session.sendFile({ name: 'report.txt', bytes: encoder.encode(report) })
      const card = entryWith(bob.page, 'report.txt')
      expect(await card.locator('.file-size').textContent()).toBe('150 B')
      expect(await card.locator('.file-preview').textContent()).toContain('line 8')
      expect(await card.locator('.file-preview').textContent()).not.toContain('line 9')
      const [download] = await Promise.all([
        bob.page.waitForEvent('download'),
        card.getByRole('button', { name: /^Download/ }).click(),
      ])
      expect(download.suggestedFilename()).toBe('report.txt')
      expect(readFileSync(await download.path(), 'utf8')).toBe(report)

      expect([...alice.errors, ...bob.errors]).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test(
    'markup in a message or a file name is shown as text and never runs',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await expectMembersInGroup(alice.page, 2)

      const markupName = '<img src=x onerror=alert(2)>.txt'
      await carol.session.sendText(MARKUP)
      await carol.session.sendFile({
        name: markupName,
        bytes: encoder.encode('<script>alert(3)</script>\n'),
      })
      await say(alice.page, '<b onmouseover=alert(4)>bold?</b>')

      expect(await entryWith(alice.page, 'onerror=alert(1)').locator('.text').textContent()).toBe(
        MARKUP,
      )
      const card = entryWith(alice.page, 'onerror=alert(2)')
      expect(await card.locator('.file-name').textContent()).toBe(markupName)
      expect(await card.locator('.file-preview').textContent()).toBe('<script>alert(3)</script>\n')
      expect(await card.getByRole('button', { name: /^Download/ }).textContent()).toBe(
        'Download as _img src=x onerror=alert(2)_.txt',
      )
      expect(await entryWith(alice.page, 'bold?').locator('.text').textContent()).toBe(
        '<b onmouseover=alert(4)>bold?</b>',
      )
      expect(await alice.page.locator('#app img, #app b, #app script').count()).toBe(0)
      await alice.page.mouse.move(200, 300)
      expect(alice.dialogs).toEqual([])

      const csp = alice.headers['content-security-policy'] ?? ''
      expect(csp).toContain("default-src 'self'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).toContain("style-src 'self'")
      expect(csp).not.toContain('unsafe-inline')
      // Nothing on the page needed an exception: no CSP violation was reported.
      expect(alice.errors).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test(
    'a reload rejoins with the same identity and group, and shows what comes next',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await expectMembersInGroup(alice.page, 2)
      await say(alice.page, 'before the reload')
      await carol.waitFor('message', (m) => m.text === 'before the reload')
      const aliceKey = (await carol.session.members()).find((m) => m.name === 'alice')?.identityKey
      const epoch = carol.session.epoch()

      await alice.page.reload()
      await waitUntilReady(alice.page)
      await alice.page.locator('.notice', { hasText: 'Back in the room' }).waitFor()

      await carol.session.sendText('after the reload')
      expect(
        await (await shown(alice.page, 'after the reload')).locator('.from').textContent(),
      ).toBe('carol')
      await say(alice.page, 'still alice')
      expect((await carol.waitFor('message', (m) => m.text === 'still alice')).from).toBe('alice')

      // Resumed, not re-added: same key, and no commit was needed to let alice back in.
      expect((await carol.session.members()).find((m) => m.name === 'alice')?.identityKey).toBe(
        aliceKey,
      )
      expect(carol.session.epoch()).toBe(epoch)
      expect(carol.events.filter((event) => event.type === 'key-change')).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test(
    'draws the room with three members on a desktop and a phone-sized screen',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using bob = await openChat(browser, server, 'bob')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await expectMembersInGroup(alice.page, 3)
      await say(bob.page, 'Morning! Notes from yesterday are in the file below.')
      await carol.session.sendFile({
        name: 'standup.txt',
        bytes: encoder.encode('- ship the web client\n- review the terminal client\n- bench\n'),
      })
      await say(alice.page, 'Thanks, reading it now.\nCan we meet at 10?')
      await carol.session.sendText('10 works for me')
      await shown(alice.page, '10 works for me')

      mkdirSync(OUTPUT_DIR, { recursive: true })
      await alice.page.screenshot({ path: joinPath(OUTPUT_DIR, 'web-room.png') })

      // At 375 px nothing scrolls sideways and the composer is still on screen.
      await using phone = await openPage(browser, server)
      await phone.page.setViewportSize({ width: 375, height: 740 })
      await joinAs(phone, 'dave')
      const overflow = await phone.page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      )
      expect(overflow).toBe(0)
      const box = await phone.page.getByLabel('Message', { exact: true }).boundingBox()
      expect(box).not.toBeNull()
      expect((box?.y ?? 0) + (box?.height ?? 0)).toBeLessThanOrEqual(740)
      expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(375)
      await phone.page.screenshot({ path: joinPath(OUTPUT_DIR, 'web-room-phone.png') })
    },
    BROWSER_TEST_MS,
  )

  test(
    'shows the room code at once after a reload, the same one the others see',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await expectMembersInGroup(alice.page, 2)
      const shared = await carol.session.roomCode()
      const code = alice.page.locator('.room-code code')
      await poll(
        () => code.textContent(),
        (text) => expect(text).toBe(shared ?? 'none'),
      )
      const epoch = carol.session.epoch()

      await alice.page.reload()
      await waitUntilReady(alice.page)
      // Nobody joined or left since: only the group state the page loaded can bring it back.
      expect(await code.textContent({ timeout: 5_000 })).toBe(shared ?? 'none')
      expect(carol.session.epoch()).toBe(epoch)
    },
    BROWSER_TEST_MS,
  )

  test(
    'a file error keeps the last message in view and gives way to the next file; control bytes show as escapes',
    async () => {
      await using server = await startTestServer({ limits: { maxFileBytes: 1024 } })
      await using alice = await openChat(browser, server, 'alice')
      await using dave = await openChat(browser, server, 'dave', PHONE)
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await carol.waitFor('membership', (event) => event.members.length === 3)
      // More than the desktop's timeline shows, so it scrolls.
      for (let line = 1; line <= 15; line++) await carol.session.sendText(`filler ${line}`)
      await carol.session.sendText('ring\x07 the bell')
      await carol.session.sendFile({
        name: 'controls.txt',
        bytes: encoder.encode('bell\x07 esc\x1b[31mred\x1b[0m del\x7f\r\nevil\u202Etxt.exe\ttab\n'),
      })

      for (const { page } of [alice, dave]) {
        expect(await (await shown(page, 'the bell')).locator('.text').textContent()).toBe(
          'ring\\x07 the bell',
        )
        const card = await shown(page, 'controls.txt')
        // As the terminal shows them; a CR ending a line is the line break it is part of.
        expect(await card.locator('.file-preview').textContent()).toBe(
          'bell\\x07 esc\\x1b[31mred\\x1b[0m del\\x7f\nevil\\u202etxt.exe\ttab\n',
        )
        const download = card.getByRole('button', { name: /^Download/ })
        await poll(
          () => hiddenBelowTimeline(page, download),
          (pixels) => expect(pixels).toBe(0),
        )
        const picker = page.locator('input[type=file]')
        await picker.setInputFiles({
          name: 'photo.png',
          mimeType: 'image/png',
          buffer: Buffer.from('x'),
        })
        await page.locator('.problem').waitFor()
        await poll(
          () => hiddenBelowTimeline(page, download),
          (pixels) => expect(pixels).toBe(0),
        )
        mkdirSync(OUTPUT_DIR, { recursive: true })
        await page.screenshot({
          path: joinPath(
            OUTPUT_DIR,
            `web-file-error-${page === dave.page ? 'phone' : 'desktop'}.png`,
          ),
        })

        // The next file's question replaces the old error rather than sitting in front of it.
        await picker.setInputFiles({
          name: 'big.txt',
          mimeType: 'text/plain',
          buffer: Buffer.from('a line\n'.repeat(400)),
        })
        const dialog = page.getByRole('dialog')
        await dialog.waitFor()
        expect(await page.locator('.problem').count()).toBe(0)
        await dialog.getByRole('button', { name: 'Cancel' }).click()
        await dialog.waitFor({ state: 'hidden' })
      }
    },
    BROWSER_TEST_MS,
  )

  test(
    'the safety number reads the same on a desktop, a phone and in the terminal: 3 rows of 4 groups',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using dave = await openChat(browser, server, 'dave', PHONE)
      await using bob = await spawnTerm(server, { name: 'bob' })
      await expectMembersInGroup(alice.page, 3)
      await expectMembersInGroup(dave.page, 3)

      for (const [{ page }, name] of [
        [alice, 'alice'],
        [dave, 'dave'],
      ] as const) {
        const pane = page.locator('.members-pane')
        if ((await pane.getAttribute('open')) === null) await pane.locator('summary').click()
        await page.getByRole('button', { name: 'Compare safety numbers with bob' }).click()
        const shownRows = await poll(
          () => rowsOnScreen(page.locator('.safety-number')),
          (rows) => expect(rows.flat()).toHaveLength(12),
        )
        expect(shownRows.map((row) => row.length)).toEqual([4, 4, 4])
        expect(
          await page
            .getByRole('dialog')
            .evaluate((dialog) => dialog.scrollWidth - dialog.clientWidth),
        ).toBe(0)
        mkdirSync(OUTPUT_DIR, { recursive: true })
        await page.screenshot({ path: joinPath(OUTPUT_DIR, `web-safety-number-${name}.png`) })

        bob.send(`/verify ${name}`)
        const heading = await bob.waitForLine(new RegExp(`safety number with ${name}:`))
        await bob.waitForLine(/compare it with/)
        // Pipe mode keeps each notice on one line, its line breaks shown as `\n`: the rows are
        // the same either way.
        const notice = bob.lines.slice(bob.lines.indexOf(heading)).join('\n')
        const printed = notice
          .replaceAll('\\n', '\n')
          .split('\n')
          .filter((line) => /^\s+\d{5}( \d{5})*$/.test(line))
          .map((line) => line.trim())
        expect(printed).toEqual(shownRows.map((row) => row.join(' ')))
        await page.keyboard.press('Escape')
        await page.getByRole('dialog').waitFor({ state: 'hidden' })
        bob.lines.length = 0
      }
    },
    // Two pages and a terminal client in a child process: twice what one page needs.
    2 * BROWSER_TEST_MS,
  )

  test(
    'on a phone: no Shift+Enter hint, Leave beside the title, and leaving for good asks first',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using dave = await openChat(browser, server, 'dave', PHONE)
      const { page } = dave
      const placeholder = (chat: typeof alice) =>
        chat.page.getByLabel('Message', { exact: true }).getAttribute('placeholder')
      expect(await placeholder(alice)).toContain('Shift+Enter')
      expect(await placeholder(dave)).not.toContain('Shift')

      // Leave sits on the title's row, at the right edge.
      const leave = page.getByRole('button', { name: 'Leave', exact: true })
      const [title, button] = await Promise.all([
        page.locator('.room-header h1').boundingBox(),
        leave.boundingBox(),
      ])
      const middle = (box: typeof title) => (box ? box.y + box.height / 2 : Number.NaN)
      expect(Math.abs(middle(title) - middle(button))).toBeLessThan(4)
      expect(375 - ((button?.x ?? 0) + (button?.width ?? 0))).toBeLessThanOrEqual(16)

      // By keyboard alone: Leave asks; Escape (or Stay) keeps dave in the room.
      await tabTo(page, 'Leave')
      await page.keyboard.press('Enter')
      const dialog = page.getByRole('dialog', { name: 'Leave the room for good?' })
      await dialog.waitFor()
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Stay')
      mkdirSync(OUTPUT_DIR, { recursive: true })
      await page.screenshot({ path: joinPath(OUTPUT_DIR, 'web-leave-phone.png') })
      await page.keyboard.press('Escape')
      await dialog.waitFor({ state: 'hidden' })
      expect(await page.locator('.status').getAttribute('data-status')).toBe('ready')
      expect(server.room.members().map((member) => member.name)).toContain('dave')

      await leave.focus()
      await page.keyboard.press('Enter')
      await dialog.waitFor()
      await tabTo(page, 'Leave the room')
      await page.keyboard.press('Enter')
      await page.getByLabel('Your name').waitFor()
      await alice.page.locator('.notice', { hasText: 'dave left' }).waitFor()
      expect(dave.dialogs).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test(
    'web links in messages open in a new tab without an opener; other schemes stay text',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await expectMembersInGroup(alice.page, 2)
      const text =
        'see https://example.com/a?b=1, javascript:alert(1) and (http://x.org/y). ' +
        'Also data:text/html,<b>x</b> and HTTPS://EXAMPLE.ORG.'
      await carol.session.sendText(text)
      const message = (await shown(alice.page, 'see https')).locator('.text')

      expect(await message.textContent()).toBe(text)
      const links = await message.locator('a').evaluateAll((anchors) =>
        anchors.map((anchor) => ({
          text: anchor.textContent,
          href: anchor.getAttribute('href'),
          target: anchor.getAttribute('target'),
          rel: anchor.getAttribute('rel'),
        })),
      )
      const link = { target: '_blank', rel: 'noopener noreferrer' }
      expect(links).toEqual([
        { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1', ...link },
        { text: 'http://x.org/y', href: 'http://x.org/y', ...link },
        { text: 'HTTPS://EXAMPLE.ORG', href: 'https://example.org/', ...link },
      ])
      expect(await alice.page.locator('#app b, #app script').count()).toBe(0)
      mkdirSync(OUTPUT_DIR, { recursive: true })
      await alice.page.screenshot({ path: joinPath(OUTPUT_DIR, 'web-links.png') })
      expect(alice.dialogs).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test(
    'the join form checks names as typed and explains the server’s refusals',
    async () => {
      const secret = 'correct horse battery'
      await using server = await startTestServer({ roomSecret: secret })
      await using first = await openPage(browser, server)
      const name = first.page.getByLabel('Your name')
      const help = first.page.locator('#join-name-help')

      const helpText = () => help.textContent()
      const invalid = () => name.getAttribute('aria-invalid')
      await name.fill('ab')
      await poll(helpText, (text) => expect(text).toStartWith('A name is 3–24 ASCII letters'))
      expect(await invalid()).toBe('true')
      await name.fill('9lives')
      await poll(helpText, (text) => expect(text).toContain('starting with a letter'))
      await name.fill('system')
      await poll(helpText, (text) => expect(text).toBe('"system" is reserved.'))
      await name.fill('alice')
      await poll(invalid, (value) => expect(value).toBe('false'))

      // The room has a secret: the form asks for it, says when it is wrong, then lets alice in.
      await name.press('Enter')
      const alert = first.page.getByRole('alert')
      await poll(
        () => alert.textContent(),
        (text) => expect(text).toBe('This room asks for a secret.'),
      )
      const secretField = first.page.getByLabel('Room secret')
      await poll(
        () => secretField.evaluate((element) => element === document.activeElement),
        (focused) => expect(focused).toBe(true),
      )
      await secretField.fill('wrong guess at it')
      await secretField.press('Enter')
      await poll(
        () => alert.textContent(),
        (text) => expect(text).toBe('That room secret is wrong.'),
      )
      await secretField.fill(secret)
      await secretField.press('Enter')
      await waitUntilReady(first.page)

      // Another browser has another key: the name, in any case, is not theirs.
      await using second = await openPage(browser, server)
      await second.page.getByLabel('Your name').fill('ALICE')
      await second.page.getByLabel('Your name').press('Enter')
      await second.page.getByLabel('Room secret').fill(secret)
      await second.page.getByLabel('Room secret').press('Enter')
      await poll(
        () => second.page.getByRole('alert').textContent(),
        (text) =>
          expect(text).toBe(
            '"ALICE" is taken: it is bound to another person\'s key. Choose another name.',
          ),
      )
      await second.page.getByLabel('Your name').waitFor()
    },
    BROWSER_TEST_MS,
  )

  test(
    'works by keyboard alone: join, compare safety numbers, mark verified, send',
    async () => {
      await using server = await startTestServer()
      await using bob = await openChat(browser, server, 'bob')
      await using alice = await openPage(browser, server)
      const { page } = alice

      // The name field has focus on load; Enter joins.
      await page.keyboard.type('alice')
      await page.keyboard.press('Enter')
      await waitUntilReady(page)
      await expectMembersInGroup(page, 2)

      await tabTo(page, 'Compare safety numbers with bob')
      expect(await focusOutline(page)).not.toBe('none')
      await page.keyboard.press('Enter')
      const dialog = page.getByRole('dialog')
      const digits = await poll(
        () => dialog.locator('.safety-number').textContent(),
        (text) => expect(text).toMatch(/^(\d{5}){12}$/),
      )

      // Bob sees the same 60 digits for alice.
      await bob.page.getByRole('button', { name: 'Compare safety numbers with alice' }).click()
      await poll(
        () => bob.page.locator('.safety-number').textContent(),
        (text) => expect(text).toBe(digits),
      )
      await bob.page.keyboard.press('Escape')
      await bob.page.getByRole('dialog').waitFor({ state: 'hidden' })

      await tabTo(page, 'They match: mark as verified')
      await page.keyboard.press('Enter')
      await dialog.waitFor({ state: 'hidden' })
      expect(
        await page.locator('.member', { hasText: 'bob' }).locator('.verified').textContent(),
      ).toBe('✓ verified')

      await tabTo(page, 'Message')
      await page.keyboard.type('typed, not clicked')
      await page.keyboard.press('Enter')
      expect(
        await (await shown(bob.page, 'typed, not clicked')).locator('.from').textContent(),
      ).toBe('alice')
    },
    BROWSER_TEST_MS,
  )

  test(
    'refuses files that are not text and asks before sending the head of a large one',
    async () => {
      await using server = await startTestServer({ limits: { maxFileBytes: 1024 } })
      await using alice = await openChat(browser, server, 'alice')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await expectMembersInGroup(alice.page, 2)
      const picker = alice.page.locator('input[type=file]')
      const problem = alice.page.locator('.problem p')

      await picker.setInputFiles({
        name: 'photo.png',
        mimeType: 'image/png',
        buffer: Buffer.from('x'),
      })
      const problemText = () => problem.textContent()
      await poll(problemText, (text) =>
        expect(text).toBe('Cannot send photo.png: only .txt files can be sent.'),
      )
      await picker.setInputFiles({
        name: 'binary.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from([0x61, 0x00, 0x62]),
      })
      await poll(problemText, (text) =>
        expect(text).toStartWith('Cannot send binary.txt: the file contains NUL bytes'),
      )
      await picker.setInputFiles({
        name: 'latin1.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      })
      await poll(problemText, (text) =>
        expect(text).toBe('Cannot send latin1.txt: the file is not valid UTF-8 text.'),
      )

      const big = 'a line of text that repeats\n'.repeat(100)
      await picker.setInputFiles({
        name: 'big.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from(big),
      })
      const dialog = alice.page.getByRole('dialog')
      await poll(
        () => dialog.textContent(),
        (text) => expect(text).toContain('big.txt is 2.7 KiB; a file may be at most 1.0 KiB'),
      )
      await dialog.getByRole('button', { name: 'Cancel' }).click()
      await dialog.waitFor({ state: 'hidden' })

      await picker.setInputFiles({
        name: 'big.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from(big),
      })
      await dialog.getByRole('button', { name: 'Send the first 1.0 KiB' }).click()
      const received = await carol.waitFor('file', (file) => file.name === 'big.txt')
      expect(received).toMatchObject({ truncated: true, size: big.length })
      expect(received.bytes).toEqual(encoder.encode(big.slice(0, 1024)))
      expect(await entryWith(alice.page, 'big.txt').locator('.file-truncated').textContent()).toBe(
        'Truncated: only the first 1.0 KiB were sent.',
      )
      expect(carol.events.filter((event) => event.type === 'file')).toHaveLength(1)
    },
    BROWSER_TEST_MS,
  )

  test(
    'a damaged identity in IndexedDB stops the join with a way out and is never replaced',
    async () => {
      await using server = await startTestServer()
      await using chat = await openPage(browser, server)
      const damaged = { privateKey: 'not a key', publicKey: 'short', createdAt: 0 }
      await chat.page.evaluate(
        (record) =>
          new Promise<void>((resolve, reject) => {
            const request = indexedDB.open('chatbox:alice', 1)
            request.onupgradeneeded = () => {
              for (const store of ['identity', 'trust', 'group']) {
                request.result.createObjectStore(store)
              }
            }
            request.onsuccess = () => {
              const transaction = request.result.transaction('identity', 'readwrite')
              transaction.objectStore('identity').put(record, 'current')
              transaction.oncomplete = () => {
                request.result.close()
                resolve()
              }
              transaction.onerror = () => reject(transaction.error)
            }
          }),
        damaged,
      )

      await chat.page.getByLabel('Your name').fill('alice')
      await chat.page.getByLabel('Your name').press('Enter')
      await poll(
        () => chat.page.getByRole('alert').textContent(),
        (text) => expect(text).toContain('saved keys for "alice" cannot be used'),
      )
      const kept = await chat.page.evaluate(
        () =>
          new Promise<unknown>((resolve, reject) => {
            // At whatever version the page left it (it adds stores as it grows).
            const request = indexedDB.open('chatbox:alice')
            request.onerror = () => reject(request.error)
            request.onsuccess = () => {
              const read = request.result
                .transaction('identity')
                .objectStore('identity')
                .get('current')
              read.onsuccess = () => resolve(read.result)
            }
          }),
      )
      expect(kept).toEqual(damaged)
      expect(server.room.members()).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test(
    'a Welcome into a forged copy of the group is a security warning, and the page is added cleanly',
    async () => {
      await using server = await startTestServer()
      await using mallory = await startHostileMember(server, 'mallory')
      await mallory.found()
      await using carol = await startEngineClient(server, 'carol', 'tls', { waitForGroup: false })
      await mallory.commitHonestly()
      await carol.session.whenReady()
      await using alice = await openPage(browser, server)
      await alice.page.getByLabel('Your name').fill('alice')
      await alice.page.getByRole('button', { name: 'Join the room' }).click()
      const request = await mallory.nextRequest()
      const honest = await mallory.mls.commit({ add: request.add.map((item) => item.keyPackage) })
      const groupId = (mallory.mls.state as ClientState).groupContext.groupId
      const forged = await ghostWelcome(
        mallory.mls,
        groupId,
        request.add[0]?.keyPackage ?? '',
        'bob',
      )
      mallory.sendCommit(request, {
        commit: honest.commit,
        welcome: forged,
        adds: honest.adds,
        removes: [],
      })

      const warning = alice.page.locator('.timeline > li', { hasText: 'Security warning' })
      await warning.waitFor()
      expect(await warning.textContent()).toContain('bob')
      await waitUntilReady(alice.page)
      await say(alice.page, 'only carol and me')
      expect((await carol.waitFor('message')).text).toBe('only carol and me')
      mkdirSync(OUTPUT_DIR, { recursive: true })
      await alice.page.screenshot({ path: joinPath(OUTPUT_DIR, 'web-security-warning.png') })
    },
    BROWSER_TEST_MS,
  )

  test(
    'counts unread messages in the tab title while the tab is hidden',
    async () => {
      await using server = await startTestServer()
      await using alice = await openChat(browser, server, 'alice')
      await using carol = await startEngineClient(server, 'carol', 'tls')
      await expectMembersInGroup(alice.page, 2)
      const title = () => alice.page.title()
      await poll(title, (text) => expect(text).toBe('alice · chatbox'))

      await setHidden(alice.page, true)
      await carol.session.sendText('one')
      await carol.session.sendText('two')
      await poll(title, (text) => expect(text).toBe('(2) alice · chatbox'))
      await setHidden(alice.page, false)
      await poll(title, (text) => expect(text).toBe('alice · chatbox'))
    },
    BROWSER_TEST_MS,
  )

  test(
    'a changed key is a loud warning and sending waits until it is accepted',
    async () => {
      // The server binds names to keys, so a changed key means the server itself lost (or
      // dropped) that binding: played here by a fresh server on the same port.
      const first = await startTestServer()
      const ports = { webPort: first.webPort, termPort: first.termPort }
      await using alice = await openChat(browser, first, 'alice')
      {
        await using carol = await startEngineClient(first, 'carol', 'tls')
        await carol.waitFor('membership', (event) => event.members.length === 2)
        await expectMembersInGroup(alice.page, 2)
      }
      await first.stop()

      await using second = await startTestServer(ports)
      await waitUntilReady(alice.page)
      await using impostor = await startEngineClient(second, 'carol', 'tls', {
        stores: createMemoryStores(),
        waitForGroup: false,
      })
      const banner = alice.page.locator('.banner.danger')
      expect(await banner.textContent()).toContain('The key of carol changed.')
      await alice.page.locator('.member', { hasText: 'carol' }).locator('.tag.danger').waitFor()
      const sendButton = alice.page.getByRole('button', { name: 'Send', exact: true })
      expect(await sendButton.isDisabled()).toBe(true)
      await say(alice.page, 'should not go out')
      expect(await alice.page.locator('.problem p').textContent()).toContain(
        'changed: accept it first',
      )
      // Refused before it went, the text is back in the composer, to send once the key is accepted.
      await poll(
        () => alice.page.getByLabel('Message', { exact: true }).inputValue(),
        (value) => expect(value).toBe('should not go out'),
      )

      await banner.getByRole('button', { name: 'Accept the new key for carol' }).click()
      await banner.waitFor({ state: 'detached' })
      await poll(
        () => sendButton.isDisabled(),
        (disabled) => expect(disabled).toBe(false),
      )
      // The engine takes the message now (the composer empties). It is not checked on screen:
      // the fresh server numbers its log from 1 again, below what alice had read before.
      await say(alice.page, 'now it may')
      await poll(
        () => alice.page.getByLabel('Message', { exact: true }).inputValue(),
        (value) => expect(value).toBe(''),
      )
      expect(await alice.page.locator('.problem').count()).toBe(0)
      // Accepted, the new key may be added to the group; what was refused before never went out.
      expect(
        impostor.events.some(
          (event) => event.type === 'message' && event.text === 'should not go out',
        ),
      ).toBe(false)
    },
    BROWSER_TEST_MS,
  )
})

/** Waits until the member list shows `count` members, all of them in the MLS group. */
async function expectMembersInGroup(page: Page, count: number): Promise<void> {
  await poll(
    () => page.locator('.members .member').count(),
    (members) => expect(members).toBe(count),
  )
  await poll(
    () => page.locator('.members .tag', { hasText: 'joining' }).count(),
    (joining) => expect(joining).toBe(0),
  )
}

/** Presses Tab until the focused element is the one labelled `label`. */
async function tabTo(page: Page, label: string): Promise<void> {
  for (let presses = 0; presses < 30; presses++) {
    const focused = await page.evaluate(() => {
      const element = document.activeElement
      if (!(element instanceof HTMLElement)) return ''
      const labelled = element.getAttribute('aria-label')
      if (labelled) return labelled
      const labels = (element as HTMLInputElement).labels
      return labels?.[0]?.textContent?.trim() ?? element.textContent?.trim() ?? ''
    })
    if (focused === label) return
    await page.keyboard.press('Tab')
  }
  throw new Error(`Tab never reached "${label}"`)
}

async function focusOutline(page: Page): Promise<string> {
  return page.evaluate(() =>
    document.activeElement ? getComputedStyle(document.activeElement).outlineStyle : 'none',
  )
}

/** Headless tabs are always visible: stand in for the user switching tabs. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => value })
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}

/** How many pixels of `element` lie below the timeline's visible area (hidden by what is below). */
async function hiddenBelowTimeline(page: Page, element: Locator): Promise<number> {
  const [box, view] = await Promise.all([
    element.boundingBox(),
    page.locator('.timeline-scroll').boundingBox(),
  ])
  if (!box || !view) return Number.POSITIVE_INFINITY
  return Math.max(0, Math.round(box.y + box.height - (view.y + view.height)))
}

/** The digit groups inside `container` as they sit on screen: one array per visual row. */
async function rowsOnScreen(container: Locator): Promise<string[][]> {
  const groups = await container.evaluate((element) =>
    [...element.querySelectorAll('span')]
      .filter((span) => /^\d+$/.test(span.textContent ?? ''))
      .map((span) => ({
        text: span.textContent ?? '',
        top: Math.round(span.getBoundingClientRect().top),
      })),
  )
  const rows = new Map<number, string[]>()
  for (const group of groups) rows.set(group.top, [...(rows.get(group.top) ?? []), group.text])
  return [...rows.entries()].sort(([a], [b]) => a - b).map(([, row]) => row)
}
