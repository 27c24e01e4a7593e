// Real Chromium for the web client's tests, through playwright-core: finds the Debian build,
// trusts only the test server's certificate, and drives the page the way a user would.
import { afterAll, beforeAll } from 'bun:test'
import { existsSync } from 'node:fs'
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
// before x509 loads: this side-effect import must stay above the x509 import.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import type * as Axe from 'axe-core'
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core'
import { type TestServer, testCertificates } from './harness.ts'

export const CHROMIUM_PATH = '/usr/bin/chromium'

/**
 * Whether browser tests can run here. Without Chromium they are skipped with a visible note,
 * unless CHATBOX_REQUIRE_BROWSER=1 (CI installs Chromium and sets it), where a missing browser
 * must fail the run instead of passing silently.
 */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true
  if (process.env.CHATBOX_REQUIRE_BROWSER === '1') return true
  console.warn(
    `web client tests SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium); ` +
      'set CHATBOX_REQUIRE_BROWSER=1 to make this a failure',
  )
  return false
}

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's SPKI list takes. */
export async function spkiHash(certificatePem: string): Promise<string> {
  const certificate = new x509.X509Certificate(certificatePem)
  const digest = await crypto.subtle.digest('SHA-256', certificate.publicKey.rawData)
  return Buffer.from(digest).toString('base64')
}

export interface TestBrowser extends AsyncDisposable {
  readonly browser: Browser
}

/**
 * Headless Chromium that accepts exactly the test server's certificate (by its public key) and
 * no other bad certificate; every certificate the test harness makes shares this key pair.
 */
export async function launchBrowser(serverCertificatePem: string): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`CHATBOX_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM_PATH}`)
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${await spkiHash(serverCertificatePem)}`,
    ],
  })
  return {
    browser,
    [Symbol.asyncDispose]: () => browser.close(),
  }
}

/**
 * One Chromium for the tests of a describe block: launched before them (trusting the test
 * server's certificate), closed after them. Read `.browser` inside a test, once it has started.
 */
export function chromiumForTests(timeoutMs = 30_000): { readonly browser: Browser } {
  let launched: TestBrowser | undefined
  beforeAll(async () => {
    launched = await launchBrowser((await testCertificates()).cert)
  }, timeoutMs)
  afterAll(async () => {
    await launched?.[Symbol.asyncDispose]()
  })
  return {
    get browser() {
      if (!launched) throw new Error('Chromium is launched before the tests of its block run')
      return launched.browser
    },
  }
}

export interface ChatPage extends AsyncDisposable {
  readonly context: BrowserContext
  readonly page: Page
  /** Headers of the page's own response, as the browser got them. */
  readonly headers: Readonly<Record<string, string>>
  /** Every dialog (alert, confirm, …) the page tried to open: markup must never run. */
  readonly dialogs: string[]
  /** Console errors, CSP violations among them. */
  readonly errors: string[]
}

export function pageUrl(server: TestServer): string {
  return `https://localhost:${server.webPort}/`
}

export type Device = Pick<
  BrowserContextOptions,
  'viewport' | 'isMobile' | 'hasTouch' | 'deviceScaleFactor'
>
/** A phone: its screen size, a touch screen and no mouse, so `(pointer: coarse)` holds. */
export const PHONE: Device = {
  viewport: { width: 375, height: 740 },
  isMobile: true,
  hasTouch: true,
}
const DESKTOP: Device = { viewport: { width: 1100, height: 720 } }

/** A user of their own: a fresh context, so each has its own IndexedDB, identity and group. */
export async function openPage(
  browser: Browser,
  server: TestServer,
  device: Device = DESKTOP,
): Promise<ChatPage> {
  const context = await browser.newContext({ acceptDownloads: true, ...device })
  const page = await context.newPage()
  // Generous: a loaded CI machine runs MLS in several browsers at once.
  page.setDefaultTimeout(15_000)
  const dialogs: string[] = []
  const errors: string[] = []
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(error.message))
  const response = await page.goto(pageUrl(server))
  return {
    context,
    page,
    headers: response?.headers() ?? {},
    dialogs,
    errors,
    [Symbol.asyncDispose]: () => context.close(),
  }
}

/** Types a name, joins, and waits until the page is in the encrypted group. */
export async function joinAs(chat: ChatPage, name: string): Promise<void> {
  await chat.page.getByLabel('Your name').fill(name)
  await chat.page.getByRole('button', { name: 'Join the room' }).click()
  await waitUntilReady(chat.page)
}

export async function waitUntilReady(page: Page): Promise<void> {
  await page.locator('.status[data-status="ready"]').waitFor()
}

/** Opens a page and joins: one browser user in the room. */
export async function openChat(
  browser: Browser,
  server: TestServer,
  name: string,
  device?: Device,
): Promise<ChatPage> {
  const chat = await openPage(browser, server, device)
  await joinAs(chat, name)
  return chat
}

/** Types into the composer and presses Enter. */
export async function say(page: Page, text: string): Promise<void> {
  const composer = page.getByLabel('Message', { exact: true })
  await composer.fill(text)
  await composer.press('Enter')
}

/** The timeline entry (message or file) whose text includes `text`. */
export function entryWith(page: Page, text: string) {
  return page.locator('.timeline > li.entry:not(.notice)', { hasText: text })
}

/** Waits for that entry; on a timeout the error carries what the page showed instead. */
export async function shown(page: Page, text: string) {
  const entry = entryWith(page, text)
  try {
    await entry.waitFor()
  } catch (error) {
    const screen = await page
      .locator('.timeline > li')
      .allTextContents()
      .then((entries) => entries.join('\n'))
      .catch(() => '(page gone)')
    throw new Error(`"${text}" never appeared; the timeline held:\n${screen}`, { cause: error })
  }
  return entry
}

/**
 * playwright-core has no `expect` that retries: read until the assertion holds (or time runs
 * out, then fail with the last assertion's error), for what the page changes as events arrive.
 */
export async function poll<T>(
  read: () => Promise<T>,
  assert: (value: T) => void,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await read()
    try {
      assert(value)
      return value
    } catch (error) {
      if (performance.now() > deadline) throw error
    }
    await Bun.sleep(50)
  }
}

/** axe-core's script, read once from node_modules: the audits load it into the page, no network. */
let axeSource: string | undefined

/** One axe-core finding, enough to say what failed where. */
export interface AxeViolation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly targets: string[]
}

/**
 * Runs every axe-core rule (WCAG 2.x A and AA, best practices, colour contrast) over the page as
 * it stands and returns the violations, of any impact. The page's CSP allows no inline script,
 * so axe is evaluated through the devtools protocol, which the CSP does not govern.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await Bun.file(
    new URL('../../node_modules/axe-core/axe.min.js', import.meta.url),
  ).text()
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource)
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: typeof Axe }).axe
    const results = await axe.run(document, { resultTypes: ['violations'] })
    return results.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact ?? null,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }))
  })
}
