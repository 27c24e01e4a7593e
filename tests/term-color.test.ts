// The terminal client's colours: on by default, off by --no-color or a non-empty NO_COLOR (as
// no-color.org asks), and nothing it shows depends on them. The client runs in tmux under
// `script`, which records every byte it writes, escapes included.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEngineClient } from './support/engine.ts'
import { startTestServer, temporaryDirectory, testCertificates } from './support/harness.ts'
import { CLIENT } from './support/term.ts'
import { hasTmux, startTmux } from './support/tmux.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const requireTmux = process.env.CHATBOX_REQUIRE_TMUX === '1'
if (!hasTmux()) {
  if (requireTmux) throw new Error('tmux is not installed but CHATBOX_REQUIRE_TMUX=1')
  console.warn('\n*** tmux not found: terminal colour tests skipped ***\n')
}

const ESC = '\u001b'
/** An SGR sequence that sets colour, weight or dimness (`ESC[0m` alone resets, and says nothing). */
const STYLE = new RegExp(`${ESC}\\[(?!0?m)[0-9;]*m`)
/** Any control sequence: colour, cursor moves, line erasing. */
const SEQUENCE = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g')

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}

/**
 * alice's chat screen with bob in the group: bob says hello, alice lists who is here, then
 * quits. Returns every byte the client wrote to its terminal.
 */
async function recordSession(flags: string[], env: Record<string, string>): Promise<string> {
  await using server = await startTestServer()
  using home = temporaryDirectory('chatbox-color-')
  const certs = await testCertificates()
  await using bob = await startEngineClient(server, 'bob', 'wss')
  const log = join(home, 'typescript.log')
  const client = [
    'bun',
    CLIENT,
    '--server',
    `127.0.0.1:${server.termPort}`,
    '--name',
    'alice',
    '--config-home',
    home,
    '--download-dir',
    join(home, 'downloads'),
    '--ca',
    join(certs.dir, 'ca.pem'),
    ...flags,
  ]
  await using terminal = await startTmux(
    [
      'script',
      '--quiet',
      '--flush',
      '--return',
      '--command',
      client.map(shellQuote).join(' '),
      log,
    ],
    { CHATBOX_CERT_DIR: join(home, 'none'), ...env },
  )
  await terminal.waitFor(/joined as alice/)
  await bob.waitFor('membership', (event) => event.members.includes('alice'))
  await terminal.waitFor(/^>$/m)
  await bob.session.sendText('hello in colour?')
  await terminal.waitFor(/bob: hello in colour\?/)
  await terminal.type('/who')
  await terminal.keys('Enter')
  await terminal.waitFor(/not verified/)
  await terminal.type('/quit')
  await terminal.keys('Enter')
  expect((await terminal.exited()).code).toBe(0)
  return readFileSync(log, 'utf8')
}

/** What the output says, once its escapes are gone: marks must read without colour. */
function words(output: string): string {
  return output.replace(SEQUENCE, '')
}

describe.skipIf(!hasTmux())('colour in the terminal client (tmux)', () => {
  test('colours names and notices by default, and an empty NO_COLOR keeps them', async () => {
    const output = await recordSession([], { NO_COLOR: '' })
    expect(output).toMatch(STYLE)
  })

  for (const [label, flags, env] of [
    ['--no-color', ['--no-color'], { NO_COLOR: '' }],
    ['NO_COLOR=1', [], { NO_COLOR: '1' }],
  ] as const) {
    test(`${label} gives output free of colour codes, its marks in words and symbols`, async () => {
      const output = await recordSession([...flags], env)
      expect(output).not.toMatch(STYLE)
      const text = words(output)
      // Who is who, who is verified and which lines are the client's own read without colour.
      expect(text).toMatch(/\d\d:\d\d bob: hello in colour\?/)
      expect(text).toMatch(/bob .*not verified/)
      expect(text).toMatch(/-- alice .*\(you, online/)
      expect(text).toContain('-- joined as alice')
    })
  }
})
