import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { startChatServer } from '../apps/server/server.ts'
import type { ServerFrame } from '../shared/protocol/frames.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer, temporaryDirectory, testCertificates } from './support/harness.ts'
import { startRelay } from './support/relay.ts'
import { selfSignedCertificate } from './support/self-signed.ts'
import { CLIENT, spawnTerm } from './support/term.ts'
import { hasTmux, startTmux } from './support/tmux.ts'

// Real servers, a relay and child processes on a shared two-core machine.
setDefaultTimeout(60_000)

if (!hasTmux()) {
  if (process.env.CHATBOX_REQUIRE_TMUX === '1') throw new Error('tmux is not installed')
  console.warn('\n*** tmux not found: interactive hostile-server tests skipped ***\n')
}

/** Clear the screen and send the cursor home: what a hostile string opens with. */
const CLEAR = '\x1b[2J\x1b[H'
/** The line an attacker wants the victim to read as the client's own. */
const FORGED = '06:04 SYSTEM: type /file ~/.ssh/id_ed25519'
/** A forged line is one that starts with the forged text, as if the client had printed it. */
const FORGED_LINE = /^(-- )?06:04 SYSTEM/m

const hostileError: ServerFrame = {
  type: 'error',
  code: 'rate_limited',
  message: `x${CLEAR}\n${FORGED}`,
  fatal: false,
}

/** A presence frame for a name no server may bind, with a well-formed key. */
const hostilePresence: ServerFrame = {
  type: 'presence',
  event: 'join',
  name: `eve${CLEAR}\n${FORGED}`,
  identityKey: 'A'.repeat(43),
  at: Date.now(),
}

function clientCommand(port: number, name: string, home: string, ca?: string): string[] {
  return [
    'bun',
    CLIENT,
    '--server',
    `127.0.0.1:${port}`,
    '--name',
    name,
    '--config-home',
    home,
    '--download-dir',
    join(home, 'downloads'),
    ...(ca ? ['--ca', ca] : []),
  ]
}

function bytesIn(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0)
}

describe.skipIf(!hasTmux())('a hostile server or peer and the interactive client (tmux)', () => {
  test('names, errors and file names neither clear the screen nor forge a line', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    const certs = await testCertificates()
    using home = temporaryDirectory('chatbox-hostile-')
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using terminal = await startTmux(
      clientCommand(relay.port, 'alice', home, join(certs.dir, 'ca.pem')),
      { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
    )
    await terminal.waitFor(/joined as alice/)
    await bob.waitFor('membership', (event) => event.members.includes('alice'))

    relay.inject(hostileError)
    let screen = await terminal.waitFor(/server: x/)
    expect(screen).not.toMatch(FORGED_LINE)

    relay.inject(hostilePresence)
    screen = await terminal.waitFor(/-- eve|invalid frame/)
    expect(screen).not.toMatch(FORGED_LINE)

    // A sender's path ends at its last slash, so this forged line has none.
    const name = 'notes\n06:04 SYSTEM: your key expired, say yes to bob.txt'
    await bob.session.sendFile({ name, bytes: new Uint8Array([0x41]) })
    screen = await terminal.waitFor(/bob sent notes/)
    expect(screen).not.toMatch(FORGED_LINE)

    // /who lists everyone the server said is here; /room after it is the sign it has all printed.
    await terminal.type('/who')
    await terminal.keys('Enter')
    await terminal.type('/room')
    await terminal.keys('Enter')
    screen = await terminal.waitFor(/room code: \d/)
    expect(screen).toContain('joined as alice')
    expect(screen).not.toMatch(FORGED_LINE)
    expect(screen).not.toMatch(/^-- eve/m)
  })

  test('a refusal carrying escapes is shown as text by the start-up prompts', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    const certs = await testCertificates()
    using home = temporaryDirectory('chatbox-hostile-')
    // The first hello is refused as a taken name, the second as a failed auth: both with escapes.
    let refusals = 0
    relay.tamper = (frame) => {
      if (frame.type !== 'challenge') return [frame]
      refusals += 1
      const code = refusals === 1 ? 'name_taken' : 'auth_failed'
      return [{ type: 'error', code, message: `no${CLEAR}\n${FORGED}`, fatal: true }]
    }
    await using terminal = await startTmux(
      clientCommand(relay.port, 'alice', home, join(certs.dir, 'ca.pem')),
      { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
    )
    let screen = await terminal.waitFor(/Your name in the room/)
    expect(screen).toContain('chatbox')
    expect(screen).toContain('\\x1b[2J')
    expect(screen).not.toMatch(FORGED_LINE)

    // The name field holds the refused name: one more letter makes it another.
    await terminal.type('2')
    await terminal.keys('Enter')
    screen = await terminal.waitFor(/no\\x1b\[2J[\s\S]*no\\x1b\[2J/)
    expect(screen).toContain('Your name in the room')
    expect(screen).not.toMatch(FORGED_LINE)
  })

  test('a certificate subject carrying escapes is shown as text when asking to pin it', async () => {
    const tls = await selfSignedCertificate([{ CN: [`evil${CLEAR}\n${FORGED}`] }])
    await using server = startChatServer({
      hostname: '127.0.0.1',
      webPort: 0,
      termPort: 0,
      tls,
      dataDir: ':memory:',
      limits: createLimits(),
    })
    using home = temporaryDirectory('chatbox-hostile-')
    await using terminal = await startTmux(clientCommand(server.termPort, 'alice', home), {
      NO_COLOR: '1',
      CHATBOX_CERT_DIR: join(home, 'none'),
    })
    const screen = await terminal.waitFor(/Trust and pin this certificate/)
    expect(screen).toContain('chatbox')
    expect(screen).toContain('subject CN=evil\\x1b[2J\\x1b[H\\n06:04 SYSTEM')
    expect(screen).not.toMatch(/^\W*06:04 SYSTEM/m)
  })
})

describe('a hostile server or peer and pipe mode', () => {
  test('nothing from the server reaches stdout as an escape or a forged line', async () => {
    await using server = await startTestServer()
    await using relay = await startRelay(server)
    await using alice = await spawnTerm(server, {
      name: 'alice',
      port: relay.port,
      args: ['--verbose'],
    })
    await alice.waitForLine(/^-- ready/)
    relay.inject(hostileError)
    await alice.waitForLine(/server: x/)
    // A name the server could never have bound: the whole frame is refused, not shown.
    relay.inject(hostilePresence)
    await alice.waitForLine(/server sent an invalid frame: .* at name: not a name the server/)
    alice.send('/who')
    alice.send('/room')
    await alice.waitForLine(/^-- room code:/)
    expect(alice.lines.filter((line) => line.includes('\x1b'))).toEqual([])
    expect(alice.lines.filter((line) => FORGED_LINE.test(line))).toEqual([])
    expect(alice.lines.filter((line) => line.startsWith('-- eve'))).toEqual([])
  })

  test('a flooding peer fills the save quota; later files are shown, held, and saved on /save', async () => {
    await using server = await startTestServer()
    await using alice = await spawnTerm(server, {
      name: 'alice',
      args: ['--save-quota', '500KiB', '--verbose'],
    })
    await alice.waitForLine(/^-- ready/)
    await using mallory = await startEngineClient(server, 'mallory', 'wss')
    const body = new Uint8Array(200 * 1024).fill(0x78)
    for (let index = 1; index <= 6; index += 1) {
      await mallory.session.sendFile({ name: `flood-${index}.txt`, bytes: body })
    }
    await alice.waitForLine(/flood-6\.txt.*not saved/)
    // Two fit in 500 KiB; the other four are shown and held.
    expect(readdirSync(alice.downloads).sort()).toEqual(['flood-1.txt', 'flood-2.txt'])
    expect(bytesIn(alice.downloads)).toBeLessThanOrEqual(500 * 1024)
    for (let index = 1; index <= 6; index += 1) {
      expect(alice.lines.some((line) => line.includes(`mallory sent flood-${index}.txt`))).toBe(
        true,
      )
    }
    expect(alice.lines).toContain(
      "-- flood-3.txt not saved: over this session's save quota (400.0 KiB of 500.0 KiB used); /save 3 saves it",
    )
    alice.send('/save 5')
    await alice.waitForLine(/saved to .*flood-5\.txt/)
    expect(readdirSync(alice.downloads).sort()).toEqual([
      'flood-1.txt',
      'flood-2.txt',
      'flood-5.txt',
    ])
  })
})
