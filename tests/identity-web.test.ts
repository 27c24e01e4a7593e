// The same identity backup in both clients (issue 16, item 2): made by the terminal, restored in
// the page, and the reverse; real server, real terminal client, real Chromium.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  browserAvailable,
  chromiumForTests,
  joinAs,
  openPage,
  poll,
  waitUntilReady,
} from './support/browser.ts'
import { startTestServer } from './support/harness.ts'
import { spawnTerm } from './support/term.ts'

setDefaultTimeout(90_000)

const PASSPHRASE = 'purple monkey dishwasher'

describe.skipIf(!browserAvailable())('an identity backup moves between the clients', () => {
  const chromium = chromiumForTests()

  test('exported from the terminal, restored in the page: joins as the same name', async () => {
    await using server = await startTestServer()
    const home = mkdtempSync(join(tmpdir(), 'chatbox-identity-web-'))
    try {
      {
        await using alice = await spawnTerm(server, { name: 'alice', home, args: ['--verbose'] })
        await alice.waitForLine(/^-- ready/)
        alice.endInput()
        expect(await alice.exited()).toBe(0)
      }
      const file = join(home, 'alice.json')
      {
        await using exporter = await spawnTerm(server, {
          name: 'alice',
          home,
          args: ['--export-identity', file],
          env: { CHATBOX_IDENTITY_PASSPHRASE: PASSPHRASE },
        })
        expect(await exporter.exited()).toBe(0)
      }
      await using chat = await openPage(chromium.browser, server)
      const { page } = chat
      await page.locator('.restore-key summary').click()
      await page.getByLabel('Backup file').setInputFiles(file)
      await page.getByLabel('Backup passphrase').fill('not the passphrase')
      await page.getByRole('button', { name: 'Restore' }).click()
      await poll(
        () => page.locator('.restore-key [role=alert]').textContent(),
        (text) => expect(text).toContain('wrong passphrase'),
        30_000,
      )
      await page.getByLabel('Backup passphrase').fill(PASSPHRASE)
      const started = performance.now()
      await page.getByRole('button', { name: 'Restore' }).click()
      await poll(
        () => page.locator('.restore-key [role=status]').textContent(),
        (text) => expect(text).toBe('Restored the key for alice. Join to use it.'),
        30_000,
      )
      console.log(`Chromium: scrypt 2^17 open ${(performance.now() - started).toFixed(0)} ms`)
      expect(await page.getByLabel('Your name').inputValue()).toBe('alice')
      await page.getByRole('button', { name: 'Join the room' }).click()
      await waitUntilReady(page)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })

  test('backed up in the page, imported in the terminal: joins as the same name', async () => {
    await using server = await startTestServer()
    const home = mkdtempSync(join(tmpdir(), 'chatbox-identity-web-'))
    try {
      const file = join(home, 'carol.json')
      {
        await using chat = await openPage(chromium.browser, server)
        await joinAs(chat, 'carol')
        const { page } = chat
        await page.getByRole('button', { name: 'Back up my key' }).click()
        await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE)
        await page.getByLabel('The same passphrase again').fill(PASSPHRASE)
        const started = performance.now()
        const [download] = await Promise.all([
          page.waitForEvent('download', { timeout: 30_000 }),
          page.getByRole('button', { name: 'Download' }).click(),
        ])
        console.log(`Chromium: scrypt 2^17 seal ${(performance.now() - started).toFixed(0)} ms`)
        expect(download.suggestedFilename()).toBe('chatbox-identity-carol.json')
        await download.saveAs(file)
        await page.getByRole('button', { name: 'Leave' }).click()
      }
      expect(readFileSync(file, 'utf8')).toContain('"chatbox-identity-backup"')
      {
        await using wrong = await spawnTerm(server, {
          name: 'carol',
          home,
          args: ['--import-identity', file],
          env: { CHATBOX_IDENTITY_PASSPHRASE: 'wrong' },
        })
        expect(await wrong.exited()).toBe(1)
        expect(wrong.errors.join('\n')).toMatch(/wrong passphrase/)
      }
      await using carol = await spawnTerm(server, {
        name: 'carol',
        home,
        args: ['--verbose', '--import-identity', file],
        env: { CHATBOX_IDENTITY_PASSPHRASE: PASSPHRASE },
      })
      await carol.waitForLine(/^-- ready/)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })
})
