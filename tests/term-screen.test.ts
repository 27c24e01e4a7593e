import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startChatServer } from '../apps/server/server.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer, testCertificates } from './support/harness.ts'
import { selfSignedCertificate } from './support/self-signed.ts'
import { CLIENT } from './support/term.ts'
import { hasTmux, startTmux } from './support/tmux.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const requireTmux = process.env.CHATBOX_REQUIRE_TMUX === '1'
if (!hasTmux()) {
  if (requireTmux) throw new Error('tmux is not installed but CHATBOX_REQUIRE_TMUX=1')
  console.warn('\n*** tmux not found: interactive terminal tests skipped ***\n')
}

function clientCommand(port: number, name: string, home: string, extra: string[] = []) {
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
    ...extra,
  ]
}

describe.skipIf(!hasTmux())('the interactive chat screen (tmux)', () => {
  test('a message arriving while a line is half typed leaves the typed text intact', async () => {
    await using server = await startTestServer()
    const certs = await testCertificates()
    const home = mkdtempSync(join(tmpdir(), 'chatbox-tmux-'))
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using terminal = await startTmux(
      clientCommand(server.termPort, 'alice', home, ['--ca', join(certs.dir, 'ca.pem')]),
      { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
    )
    await terminal.waitFor(/joined as alice/)
    await bob.waitFor('membership', (event) => event.members.includes('alice'))
    await terminal.type('half of a thought')
    await terminal.waitFor(/> half of a thought/)
    await bob.session.sendText('interrupting you')
    const screen = await terminal.waitFor(/bob: interrupting you/)
    const lines = screen.trimEnd().split('\n')
    expect(lines.at(-1)).toBe('> half of a thought')
    expect(lines.filter((line) => line.includes('half of a thought')).length).toBe(1)
    await terminal.type(', finished')
    await terminal.keys('Enter')
    expect((await bob.waitFor('message', (event) => event.from === 'alice')).text).toBe(
      'half of a thought, finished',
    )
    // Ctrl-C leaves the room as /quit does.
    await terminal.keys('C-c')
    const left = await bob.waitFor('presence', (event) => event.event === 'leave')
    expect(left).toMatchObject({ name: 'alice', reason: 'quit' })
    rmSync(home, { recursive: true, force: true })
  })

  test('an unknown self-signed server is shown with its fingerprint and pinned only when accepted', async () => {
    const tls = await selfSignedCertificate()
    await using server = startChatServer({
      hostname: '127.0.0.1',
      webPort: 0,
      termPort: 0,
      tls,
      dataDir: ':memory:',
      limits: createLimits(),
    })
    const home = mkdtempSync(join(tmpdir(), 'chatbox-tmux-'))
    await using terminal = await startTmux(clientCommand(server.termPort, 'alice', home), {
      NO_COLOR: '1',
      CHATBOX_CERT_DIR: join(home, 'none'),
    })
    const shown = await terminal.waitFor(/Trust and pin this certificate/)
    expect(shown).toMatch(/SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/)
    const knownHosts = join(home, 'chatbox', 'known_hosts.json')
    expect(existsSync(knownHosts)).toBe(false)
    await terminal.keys('y')
    await terminal.keys('Enter')
    await terminal.waitFor(/joined as alice/)
    const pins = JSON.parse(readFileSync(knownHosts, 'utf8'))
    expect(Object.keys(pins)).toEqual([`127.0.0.1:${server.termPort}`])
    rmSync(home, { recursive: true, force: true })
  })
})
