// The terminal client's history on the device, end to end: a real server, the real client under
// tmux, restarted; the history file read raw from disk.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clientStateDir, createFileStores } from '../shared/client/file-stores.ts'
import { createChatSession } from '../shared/client/session.ts'
import { startEngineClient, transportFor } from './support/engine.ts'
import { startTestServer, testCertificates } from './support/harness.ts'
import { CLIENT } from './support/term.ts'
import { hasTmux, startTmux } from './support/tmux.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(60_000)

const OUTPUT_DIR = join(import.meta.dir, '..', 'test-output')
const requireTmux = process.env.CHATBOX_REQUIRE_TMUX === '1'
if (!hasTmux() && requireTmux) throw new Error('tmux is not installed but CHATBOX_REQUIRE_TMUX=1')

describe.skipIf(!hasTmux())('the terminal client keeps its history on the device', () => {
  test('shows it after a restart, sealed 0600 at rest, and /clear-history empties it', async () => {
    await using server = await startTestServer()
    const certs = await testCertificates()
    const home = mkdtempSync(join(tmpdir(), 'chatbox-term-history-'))
    const label = `127.0.0.1:${server.termPort}`
    const stateDir = clientStateDir(home, label)
    const start = (name: string) =>
      startTmux(
        [
          'bun',
          CLIENT,
          ...['--server', label, '--name', name, '--config-home', home],
          ...['--download-dir', join(home, 'downloads'), '--ca', join(certs.dir, 'ca.pem')],
        ],
        { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
      )
    await using bob = await startEngineClient(server, 'bob', 'wss')

    {
      await using first = await start('alice')
      await first.waitFor(/joined as alice/)
      await bob.waitFor('membership', (event) => event.members.includes('alice'))
      await bob.session.sendText('the cake is in the oven')
      await bob.session.sendFile({
        name: 'recipe.txt',
        bytes: new TextEncoder().encode('flour, eggs, sugar\n'),
      })
      await first.waitFor(/bob sent recipe\.txt/)
      await first.type('set a timer for forty minutes')
      await first.keys('Enter')
      await first.waitFor(/alice: set a timer/)
      await first.type('/quit')
      await first.keys('Enter')
      await bob.waitFor('presence', (event) => event.event === 'leave' && event.name === 'alice')
    }

    // At rest: a 0600 log and a 0600 key beside the identity, and not a word of the chat.
    const logs = readdirSync(stateDir).filter((file) => /^history-[0-9a-f]{32}\.log$/.test(file))
    expect(logs).toHaveLength(1)
    const log = join(stateDir, logs[0] as string)
    expect(statSync(log).mode & 0o777).toBe(0o600)
    expect(statSync(join(stateDir, 'history-key.json')).mode & 0o777).toBe(0o600)
    expect(statSync(stateDir).mode & 0o777).toBe(0o700)
    const raw = readFileSync(log, 'utf8')
    expect(raw.trimEnd().split('\n')).toHaveLength(3)
    for (const plain of ['cake', 'oven', 'recipe', 'flour', 'timer', 'bob', 'alice']) {
      expect(raw).not.toContain(plain)
    }

    {
      await using second = await start('alice')
      const screen = await second.waitFor(/joined as alice/)
      mkdirSync(OUTPUT_DIR, { recursive: true })
      writeFileSync(join(OUTPUT_DIR, 'term-history.txt'), screen)
      const lines = screen.split('\n')
      const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line))
      const order = [
        at(/^-- earlier messages on this device$/),
        at(/bob: the cake is in the oven$/),
        at(/bob sent recipe\.txt/),
        at(/alice: set a timer for forty minutes$/),
        at(/^-- new session$/),
        at(/joined as alice/),
      ]
      expect(order.every((index) => index >= 0)).toBe(true)
      expect(order).toEqual([...order].sort((a, b) => a - b))

      // Another name, or another server, on the same device sees none of it.
      const peek = async (dir: string, name: string) => {
        const session = createChatSession({
          connect: transportFor(server, 'tls'),
          name,
          stores: createFileStores(dir),
        })
        return (await session.history()).map((event) => event.id).length
      }
      expect(await peek(stateDir, 'alice')).toBe(3)
      expect(await peek(stateDir, 'carol')).toBe(0)
      expect(await peek(clientStateDir(home, '127.0.0.1:1'), 'alice')).toBe(0)

      await second.type('/clear-history')
      await second.keys('Enter')
      await second.waitFor(/history on this device cleared: 3 message\(s\) forgotten/)
      expect(
        readdirSync(stateDir).filter(
          (file) => file.startsWith('history-') && file.endsWith('.log'),
        ),
      ).toEqual([])
      expect(await peek(stateDir, 'alice')).toBe(0)
    }
    rmSync(home, { recursive: true, force: true })
  })
})
