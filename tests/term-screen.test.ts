import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startChatServer } from '../apps/server/server.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { type EngineClient, startEngineClient } from './support/engine.ts'
import {
  startTestServer,
  type TestServer,
  temporaryDirectory,
  testCertificates,
} from './support/harness.ts'
import { selfSignedCertificate } from './support/self-signed.ts'
import { CLIENT, closedPort } from './support/term.ts'
import { hasTmux, startTmux, type TmuxOptions, type TmuxSession } from './support/tmux.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const requireTmux = process.env.CHATBOX_REQUIRE_TMUX === '1'
if (!hasTmux()) {
  if (requireTmux) throw new Error('tmux is not installed but CHATBOX_REQUIRE_TMUX=1')
  console.warn('\n*** tmux not found: interactive terminal tests skipped ***\n')
}

function clientCommand(port: number | undefined, name: string, home: string, extra: string[] = []) {
  return [
    'bun',
    CLIENT,
    ...(port === undefined ? [] : ['--server', `127.0.0.1:${port}`]),
    '--name',
    name,
    '--config-home',
    home,
    '--download-dir',
    join(home, 'downloads'),
    ...extra,
  ]
}

/** How often `needle` occurs in `text`. */
function countOf(text: string, needle: string): number {
  return text.split(needle).length - 1
}

interface AliceAndBob extends AsyncDisposable {
  readonly terminal: TmuxSession
  readonly bob: EngineClient
}

/** alice in a terminal, in the group with bob (an engine client over WebSocket). */
async function aliceWithBob(
  server: TestServer,
  home: string,
  options: TmuxOptions & { readonly extra?: string[] } = {},
): Promise<AliceAndBob> {
  const certs = await testCertificates()
  const bob = await startEngineClient(server, 'bob', 'wss')
  const terminal = await startTmux(
    clientCommand(server.termPort, 'alice', home, [
      '--ca',
      join(certs.dir, 'ca.pem'),
      ...(options.extra ?? []),
    ]),
    { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
    options,
  )
  await terminal.waitFor(/joined as alice/)
  await bob.waitFor('membership', (event) => event.members.includes('alice'))
  // The bare prompt: alice is in the group too (until then it shows `[joining] > `).
  await terminal.waitFor(/^>$/m)
  return {
    terminal,
    bob,
    async [Symbol.asyncDispose]() {
      await terminal[Symbol.asyncDispose]()
      await bob[Symbol.asyncDispose]()
    },
  }
}

/** No stack trace, no readline error: what the issue saw after Ctrl-C. */
const TRACE = /ERR_USE_AFTER_CLOSE|listener threw|^\s+at .*\(.*:\d+:\d+\)/m

describe.skipIf(!hasTmux())('the interactive chat screen (tmux)', () => {
  test('a message arriving while a line is half typed leaves the typed text intact', async () => {
    await using server = await startTestServer()
    using home = temporaryDirectory('chatbox-tmux-')
    await using chat = await aliceWithBob(server, home)
    const { terminal, bob } = chat
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
  })

  for (const width of [80, 120]) {
    test(`a message arriving while the typed line wraps (${width} columns) shows once, above the line`, async () => {
      await using server = await startTestServer()
      using home = temporaryDirectory('chatbox-tmux-')
      await using chat = await aliceWithBob(server, home, { width, height: 24 })
      const { terminal, bob } = chat
      // Wider than the pane: the typed line wraps onto a second row.
      const typed = Array.from({ length: 60 }, (_, index) => `word${index}`)
        .join(' ')
        .slice(0, width + 6)
        .trimEnd()
      await terminal.type(typed)
      // The end of the line, on the second row.
      await terminal.waitFor(new RegExp(`${RegExp.escape(typed.slice(-5))}$`, 'm'))
      await bob.session.sendText('a message from bob')
      await terminal.waitFor(/bob: a message from bob/, 8_000)
      const scrollback = await terminal.scrollback()
      expect(countOf(scrollback, 'bob: a message from bob')).toBe(1)
      // The typed line is drawn once, whole, as the last line, with the message just above it.
      expect(countOf(scrollback, typed.slice(0, 30))).toBe(1)
      const lines = scrollback.trimEnd().split('\n')
      expect(lines.at(-1)).toBe(`> ${typed}`)
      expect(lines.at(-2)).toMatch(/^\d\d:\d\d bob: a message from bob$/)

      // A second message while the cursor is back in the first row of the typed line.
      await terminal.keys('Home')
      await bob.session.sendText('and another one')
      await terminal.waitFor(/bob: and another one/, 8_000)
      await terminal.keys('End')
      await terminal.type(' done')
      await terminal.keys('Enter')
      expect((await bob.waitFor('message', (event) => event.from === 'alice')).text).toBe(
        `${typed} done`,
      )
      await terminal.waitFor(/alice: word0 word1/)
      const after = await terminal.scrollback()
      expect(countOf(after, 'bob: a message from bob')).toBe(1)
      expect(countOf(after, 'bob: and another one')).toBe(1)
      // Sent, the typed line is replaced by the message as the room has it: once, not twice.
      expect(countOf(after, typed.slice(0, 30))).toBe(1)
    })
  }

  const exits = [
    { how: 'Ctrl-C', steps: async (terminal: TmuxSession) => terminal.keys('C-c') },
    { how: 'Ctrl-D', steps: async (terminal: TmuxSession) => terminal.keys('C-d') },
    {
      how: '/quit',
      steps: async (terminal: TmuxSession) => {
        await terminal.type('/quit')
        await terminal.keys('Enter')
      },
    },
    {
      how: 'Ctrl-C at a [y/N] question',
      steps: async (terminal: TmuxSession) => {
        await terminal.type('/verify bob')
        await terminal.keys('Enter')
        await terminal.waitFor(/\[y\/N\]/)
        await terminal.keys('C-c')
      },
    },
  ]
  for (const exit of exits) {
    test(`${exit.how} leaves the room, ends on a new line, and prints no stack trace`, async () => {
      await using server = await startTestServer()
      using home = temporaryDirectory('chatbox-tmux-')
      await using chat = await aliceWithBob(server, home, { width: 80 })
      const { terminal, bob } = chat
      await exit.steps(terminal)
      const left = await bob.waitFor('presence', (event) => event.event === 'leave', 8_000)
      expect(left).toMatchObject({ name: 'alice', reason: 'quit' })
      const { code, screen } = await terminal.exited()
      expect(code).toBe(0)
      const scrollback = await terminal.scrollback()
      expect(scrollback).not.toMatch(TRACE)
      expect(scrollback).not.toContain('[closed]')
      // The status line starts a line of its own: the client ended with a newline.
      expect(screen).toMatch(/^-- you left the room\n\[exited 0\]$/m)
    })
  }

  test('closing the terminal with a line half typed leaves the room and sends nothing', async () => {
    await using server = await startTestServer()
    using home = temporaryDirectory('chatbox-tmux-')
    await using chat = await aliceWithBob(server, home)
    const { terminal, bob } = chat
    await terminal.type('not meant to be sent')
    await terminal.waitFor(/> not meant to be sent/)
    // The window closes: the client gets SIGHUP and its input ends.
    await terminal[Symbol.asyncDispose]()
    const left = await bob.waitFor('presence', (event) => event.event === 'leave', 8_000)
    expect(left).toMatchObject({ name: 'alice', reason: 'quit' })
    // Anything alice sent would be in the room's log before her leave.
    expect(bob.events.filter((event) => event.type === 'message')).toEqual([])
  })

  test('a wrong address is asked again: the web port is named as such, a closed port as closed', async () => {
    await using server = await startTestServer()
    const certs = await testCertificates()
    using home = temporaryDirectory('chatbox-tmux-')
    const nobody = await closedPort()
    await using terminal = await startTmux(
      clientCommand(server.webPort, 'alice', home, ['--ca', join(certs.dir, 'ca.pem')]),
      { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
      // Wide enough that the advice stays on one row.
      { width: 160 },
    )
    let screen = await terminal.waitFor(/Server \(host:port/)
    expect(screen).toContain(
      "that looks like chatbox's web port; the terminal port is usually 8444",
    )
    await clearField(terminal)
    await terminal.type(`127.0.0.1:${nobody}`)
    await terminal.keys('Enter')
    screen = await terminal.waitFor(new RegExp(`nothing answers at 127\\.0\\.0\\.1:${nobody}`))
    await terminal.waitFor(/Server \(host:port[\s\S]*Server \(host:port/)
    await clearField(terminal)
    await terminal.type(`127.0.0.1:${server.termPort}`)
    await terminal.keys('Enter')
    screen = await terminal.waitFor(/joined as alice/)
    expect(screen).not.toContain('connection closed')
  })

  test('the screen shows joins, leaves and messages once, without MLS detail unless --verbose', async () => {
    for (const verbose of [false, true]) {
      await using server = await startTestServer()
      using home = temporaryDirectory('chatbox-tmux-')
      await using chat = await aliceWithBob(server, home, {
        extra: verbose ? ['--verbose'] : [],
      })
      const { terminal, bob } = chat
      const carol = await startEngineClient(server, 'carol', 'wss')
      await terminal.waitFor(/carol joined/)
      await carol.session.leave()
      await bob.waitFor('membership', (event) => event.removed.includes('carol'))
      await terminal.waitFor(/carol left/)
      await terminal.type('hello all')
      await terminal.keys('Enter')
      await bob.waitFor('message', (event) => event.text === 'hello all')
      await terminal.waitFor(/alice: hello all/)
      const scrollback = await terminal.scrollback()
      expect(countOf(scrollback, 'hello all')).toBe(1)
      expect(countOf(scrollback, '/help lists the commands')).toBe(1)
      expect(countOf(scrollback, 'carol joined')).toBe(1)
      expect(countOf(scrollback, 'carol left')).toBe(1)
      if (verbose) {
        expect(scrollback).toMatch(/^-- group epoch \d+: 3 member\(s\)/m)
        expect(scrollback).toMatch(/^-- ready$/m)
      } else {
        expect(scrollback).not.toContain('group epoch')
        expect(scrollback).not.toMatch(/^-- ready$/m)
        expect(scrollback).not.toContain('MLS')
      }
    }
  })

  test('/verify answered no says so, /verify of yourself shows your own key, /who marks you', async () => {
    await using server = await startTestServer()
    using home = temporaryDirectory('chatbox-tmux-')
    await using chat = await aliceWithBob(server, home)
    const { terminal } = chat
    await terminal.type('/verify bob')
    await terminal.keys('Enter')
    await terminal.waitFor(/\[y\/N\]/)
    await terminal.keys('n', 'Enter')
    await terminal.waitFor(/bob is not marked verified/)
    await terminal.type('/verify alice')
    await terminal.keys('Enter')
    const screen = await terminal.waitFor(/alice is you/)
    expect(screen).toMatch(/alice is you; your key's fingerprint is [0-9a-f]{4}( [0-9a-f]{4})+/)
    await terminal.type('/who')
    await terminal.keys('Enter')
    await terminal.waitFor(/^-- alice .*\(you/m)
    const who = (await terminal.screen()).split('\n').filter((line) => line.startsWith('-- alice'))
    expect(who.at(-1)).toMatch(/\(you, online, in group\)$/)
  })

  test('a received file shows its first lines, made harmless, under the line that names it', async () => {
    await using server = await startTestServer()
    using home = temporaryDirectory('chatbox-tmux-')
    await using chat = await aliceWithBob(server, home)
    const { terminal, bob } = chat
    const lines = [
      'first line',
      'second \x1b[2Jline',
      ...Array.from({ length: 8 }, (_, i) => `l${i}`),
    ]
    await bob.session.sendFile({
      name: 'notes.txt',
      bytes: new TextEncoder().encode(lines.join('\n')),
    })
    const screen = await terminal.waitFor(/saved to/)
    expect(screen).toMatch(
      /bob sent notes\.txt \(\d+ B\)\n\s+\| first line\n\s+\| second \\x1b\[2Jline\n/,
    )
    // Three lines, then a mark that there is more.
    expect(screen).toMatch(/\| l0\n\s+\| …\n/)
    expect(screen).not.toContain('| l1')
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

/** Empties a clack text field that holds an earlier answer. */
async function clearField(terminal: TmuxSession): Promise<void> {
  await terminal.keys(...Array.from({ length: 40 }, () => 'BSpace'))
}
