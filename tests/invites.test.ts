// Invite-only rooms (issue 16, item 4): `bun run admin invite NAME` against a real `bun run serve`,
// the code used by hand, by the terminal client's --invite and by the page's #invite= link.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createIdentityKeyPair as keyPair } from '../shared/crypto/identity-key.ts'
import { admin, row, type Served, startServe, tryJoin } from './support/admin.ts'
import { browserAvailable, chromiumForTests, waitUntilReady } from './support/browser.ts'
import { temporaryDirectory, testCertificates } from './support/harness.ts'
import { spawnTerm } from './support/term.ts'

// Real servers, child processes and a browser on a shared two-core machine.
setDefaultTimeout(90_000)

/** `bun run admin invite NAME`: its code and page link, as the operator reads them. */
async function invite(server: Served, name: string) {
  const made = await admin(['--data-dir', server.dataDir, 'invite', name])
  expect(made.code).toBe(0)
  const link = made.stdout.match(/page: +(\S+)/)?.[1] ?? ''
  const code = made.stdout.match(/--invite=(\S+)/)?.[1] ?? ''
  // The page's address as the server is set up: tests bind it to 127.0.0.1 (CHATBOX_HOST).
  expect(link).toBe(`https://127.0.0.1:${server.webPort}/#invite=${code}&name=${name}`)
  expect(made.stdout).toContain(
    `terminal: bun run apps/term/client.ts --server 127.0.0.1:${server.termPort} --name ${name} --invite=${code}`,
  )
  return { code, link }
}

const INVITE_ONLY = { CHATBOX_INVITE_ONLY: '1' }

describe('an invite-only room', () => {
  test('refuses strangers, takes each invite once, and lets a bound key back without one', async () => {
    using dir = temporaryDirectory()
    let server = await startServe(dir, INVITE_ONLY)
    const args = () => ['--data-dir', server.dataDir]
    const mallory = await keyPair()
    expect(await tryJoin(server.terminal, 'mallory', mallory)).toMatchObject({
      type: 'error',
      code: 'invite_required',
    })
    await server.process.until('"event":"refused","code":"invite_required"')

    const forDave = await invite(server, 'dave')
    // A code is for its name only, and never made for a name a key holds or one like it.
    expect(await tryJoin(server.web, 'mallory', mallory, forDave.code)).toMatchObject({
      code: 'invite_invalid',
    })
    const dave = await keyPair()
    expect(await tryJoin(server.web, 'dave', dave, forDave.code)).toMatchObject({ type: 'ready' })
    await server.process.until('"event":"admin","action":"invite-used","name":"dave"')
    expect(await tryJoin(server.terminal, 'dave', dave)).toMatchObject({ type: 'ready' })
    expect(await tryJoin(server.terminal, 'dave', mallory, forDave.code)).toMatchObject({
      code: 'name_taken',
    })
    const twice = await admin([...args(), 'invite', 'dave'])
    expect(twice.code).toBe(1)
    expect(twice.stderr).toContain('a key holds dave already; release it first')
    expect((await admin([...args(), 'invite', 'da-ve'])).stderr).toContain('looks like dave')

    // Released, dave's name is free again, but the spent code does not bind it a second time.
    expect((await admin([...args(), 'release', 'dave'])).code).toBe(0)
    expect(await tryJoin(server.terminal, 'dave', mallory, forDave.code)).toMatchObject({
      code: 'invite_invalid',
    })

    // Made while the server is stopped, an invite waits in the store for the next start.
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
    const made = await admin([...args(), 'invite', 'erin'], { CHATBOX_WEB_PORT: '9443' })
    expect(made.stdout).toContain('page:     https://localhost:9443/#invite=')
    const code = made.stdout.match(/--invite=(\S+)/)?.[1] ?? ''
    server = await startServe(dir, INVITE_ONLY)
    expect(await tryJoin(server.terminal, 'erin', await keyPair(), code)).toMatchObject({
      type: 'ready',
    })
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
  })

  test('the terminal client joins with --invite, and a refusal without one says what to do', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir, {
      ...INVITE_ONLY,
      CHATBOX_CERT_DIR: (await testCertificates()).dir,
    })
    {
      await using stranger = await spawnTerm(server, { name: 'frank', home: dir })
      expect(await stranger.exited()).not.toBe(0)
      expect(stranger.errors.join('')).toContain(
        'this room is invite-only: ask the admin for an invite for "frank"',
      )
    }
    const { code } = await invite(server, 'frank')
    await using frank = await spawnTerm(server, {
      name: 'frank',
      home: dir,
      // As the admin printed it: with `=`, as a code may start with a dash.
      args: [`--invite=${code}`, '--verbose'],
    })
    await frank.waitForLine(/^-- ready/)
    const members = await admin(['--data-dir', server.dataDir, 'members'])
    expect(row(members.stdout, 'frank').slice(2, 3)).toEqual(['online'])
    frank.endInput()
    expect(await frank.exited()).toBe(0)
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
  })
})

describe.skipIf(!browserAvailable())('an invite link', () => {
  const chromium = chromiumForTests()

  test('opens the page with the name filled in, joins with it, and leaves the address bar', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir, {
      ...INVITE_ONLY,
      CHATBOX_CERT_DIR: (await testCertificates()).dir,
    })
    const { link } = await invite(server, 'gina')
    const context = await chromium.browser.newContext()
    try {
      const page = await context.newPage()
      await page.goto(link)
      // Out of the address bar at once: not bookmarked, not shared by a copied URL.
      expect(page.url()).toBe(`https://127.0.0.1:${server.webPort}/`)
      expect(await page.getByLabel('Your name').inputValue()).toBe('gina')
      await page.getByRole('button', { name: 'Join the room' }).click()
      await waitUntilReady(page)
      await server.process.until('"event":"admin","action":"invite-used","name":"gina"')
    } finally {
      await context.close()
    }
    server.process.child.kill('SIGTERM')
    expect((await server.process.exit()).code).toBe(0)
  })
})
