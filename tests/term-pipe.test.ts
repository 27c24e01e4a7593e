import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as v from 'valibot'
import { TermNoticeSchema } from '../apps/term/notices.ts'
import { clientStateDir, createFileStores } from '../shared/client/file-stores.ts'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'
import { closedPort, spawnTerm } from './support/term.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('the terminal client in pipe mode', () => {
  test('two terminal clients exchange messages and a file', async () => {
    await using server = await startTestServer()
    await using alice = await spawnTerm(server, { name: 'alice', args: ['--verbose'] })
    await alice.waitForLine(/^-- ready/)
    await using bob = await spawnTerm(server, { name: 'bob', args: ['--json'] })
    await bob.waitForLine(/"status":"ready"/)
    await alice.waitForLine(/^-- bob joined/)

    alice.send('hello bob')
    const heard = JSON.parse(await bob.waitForLine(/"text":"hello bob"/))
    expect(heard).toMatchObject({ type: 'message', from: 'alice', own: false, text: 'hello bob' })
    bob.send('hi alice')
    expect(await alice.waitForLine(/bob: hi alice/)).toMatch(/^\d\d:\d\d bob: hi alice$/)

    const notes = join(alice.home, 'notes.txt')
    writeFileSync(notes, 'first line\nsecond line\n')
    alice.send(`/file ${notes}`)
    const file = JSON.parse(await bob.waitForLine(/"type":"file"/))
    expect(file).toMatchObject({ from: 'alice', name: 'notes.txt', size: 23, truncated: false })
    const saved = v.parse(TermNoticeSchema, JSON.parse(await bob.waitForLine(/"type":"saved"/)))
    expect(saved).toEqual({
      type: 'saved',
      file: 1,
      name: 'notes.txt',
      path: join(bob.downloads, 'notes.txt'),
    })
    expect(readFileSync(join(bob.downloads, 'notes.txt'), 'utf8')).toBe('first line\nsecond line\n')

    // End of input leaves the room cleanly, after what was sent has reached the server.
    alice.send('bye now')
    alice.endInput()
    expect(await alice.exited()).toBe(0)
    await bob.waitForLine(/"text":"bye now"/)
    await bob.waitForLine(/"event":"leave","name":"alice"/)
  })

  test('odd files: a binary .txt is refused, an oversize one is cut or cancelled, names are tamed', async () => {
    await using server = await startTestServer()
    await using alice = await spawnTerm(server, { name: 'alice', args: ['--verbose'] })
    await alice.waitForLine(/^-- ready/)
    await using carol = await spawnTerm(server, {
      name: 'carol',
      args: ['--truncate', '--verbose'],
    })
    await carol.waitForLine(/^-- ready/)
    await alice.waitForLine(/carol joined/)

    const binary = join(carol.home, 'photo.txt')
    writeFileSync(binary, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]))
    carol.send(`/file ${binary}`)
    await carol.waitForLine(/^-- not sent: photo\.txt: the file contains NUL bytes/)

    const big = join(carol.home, 'big.txt')
    writeFileSync(big, 'x'.repeat(1_048_576 + 10))
    carol.send(`/file ${big}`)
    await alice.waitForLine(/carol sent big\.txt \(1\.0 MiB, truncated to 1\.0 MiB\)/)
    await alice.waitForLine(/saved to .*big\.txt/)
    const saved = readFileSync(join(alice.downloads, 'big.txt'))
    expect(saved.length).toBe(1_048_576)

    // alice has no --truncate: the same file is not sent.
    const hers = join(alice.home, 'big.txt')
    writeFileSync(hers, 'y'.repeat(1_048_577))
    alice.send(`/file ${hers}`)
    // Rounded, both would read 1.0 MiB: the bytes say how much over it is.
    await alice.waitForLine(
      /^-- not sent: big\.txt: it is 1,048,577 bytes, over the limit of 1,048,576$/,
    )

    const odd = join(carol.home, 'e\x1b[31mvil\u202Etxt.exe.txt')
    writeFileSync(odd, 'harmless')
    carol.send(`/file ${odd}`)
    const line = await alice.waitForLine(/carol sent e/)
    expect(line).toContain('e\\x1b[31mvil\\u202etxt.exe.txt')
    expect(line).not.toContain('\x1b')
    await alice.waitForLine(/saved to .*vil/)
    const names = readdirSync(alice.downloads)
    expect(names.some((name) => name.includes('\x1b') || name.includes('\u202E'))).toBe(false)
    expect(names).toContain('e[31mviltxt.exe.txt')
  })

  test('a room with a secret turns away a client without it and lets one with it in', async () => {
    await using server = await startTestServer({ roomSecret: 'correct horse battery' })
    await using without = await spawnTerm(server, { name: 'alice' })
    expect(await without.exited()).toBe(2)
    expect(without.errors.join('\n')).toContain('this room asks for a secret: pass --secret')
    await using wrong = await spawnTerm(server, { name: 'alice', args: ['--secret', 'nope nope'] })
    expect(await wrong.exited()).toBe(2)
    expect(wrong.errors.join('\n')).toContain('wrong room secret')
    await using right = await spawnTerm(server, {
      name: 'alice',
      args: ['--secret', 'correct horse battery', '--verbose'],
    })
    await right.waitForLine(/^-- ready/)
  })

  test('ANSI escapes in a message are shown as text, not obeyed', async () => {
    await using server = await startTestServer()
    await using alice = await spawnTerm(server, { name: 'alice', args: ['--verbose'] })
    await alice.waitForLine(/^-- ready/)
    await using mallory = await startEngineClient(server, 'mallory', 'wss')
    await mallory.session.sendText('\x1b[2J\x1b[31mred alert\x07\x1b]0;pwned\x07')
    const line = await alice.waitForLine(/mallory: /)
    expect(line).toContain('\\x1b[2J\\x1b[31mred alert\\x07\\x1b]0;pwned\\x07')
    expect([...line].filter((char) => (char.codePointAt(0) as number) < 0x20)).toEqual([])
  })

  test('a peer whose key changed is flagged, and sending waits for /trust', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'wss')
    // alice remembers another key for bob than the one bob now has (as after a key change).
    const home = mkdtempSync(join(tmpdir(), 'chatbox-term-'))
    const stores = createFileStores(clientStateDir(home, `127.0.0.1:${server.termPort}`))
    const old = await createIdentityKeyPair()
    await stores.trust.put({
      name: 'bob',
      identityKey: old.publicKeyText,
      firstSeen: 1,
      verified: true,
    })
    await using alice = await spawnTerm(server, { name: 'alice', home })
    await alice.waitForLine(/the key of bob CHANGED/)
    alice.send('can bob read this?')
    await alice.waitForLine(/the key of bob changed: accept it first/)
    alice.send('/who')
    await alice.waitForLine(/^-- bob .*KEY CHANGED/)
    alice.send('/trust bob')
    await alice.waitForLine(/the new key of bob is accepted/)
    alice.send('now bob can')
    expect((await bob.waitFor('message')).text).toBe('now bob can')
    expect(
      bob.events.some((event) => event.type === 'message' && event.text.startsWith('can bob')),
    ).toBe(false)
    rmSync(home, { recursive: true, force: true })
  })

  test("a bot's one message is one line on stdout, and it exits 0", async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using bot = await spawnTerm(server, { name: 'deploybot' })
    bot.send('deploy finished')
    bot.endInput()
    expect(await bot.exited()).toBe(0)
    expect((await bob.waitFor('message', (event) => event.from === 'deploybot')).text).toBe(
      'deploy finished',
    )
    expect(bot.lines.filter((line) => line !== '')).toEqual([
      expect.stringMatching(/^\d\d:\d\d deploybot: deploy finished$/),
    ])
  })

  test('a refused /file says why, the rest still goes, and the exit status is 1', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using bot = await spawnTerm(server, { name: 'bot' })
    const missing = join(bot.home, 'nowhere', 'report.txt')
    const binary = join(bot.home, 'photo.txt')
    writeFileSync(binary, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]))
    bot.send(`/file ${missing}`)
    bot.send(`/file ${binary}`)
    bot.send('/dance')
    bot.send('still here')
    bot.endInput()
    expect(await bot.exited()).toBe(1)
    expect((await bob.waitFor('message', (event) => event.from === 'bot')).text).toBe('still here')
    expect(bot.lines.filter((line) => line.startsWith('-- '))).toEqual([
      `-- no such file: ${missing}`,
      '-- not sent: photo.txt: the file contains NUL bytes: it is not text',
      '-- unknown command /dance; /help lists them',
    ])
    expect(bot.errors.join('\n')).toBe('chatbox: 3 of 4 lines were refused')
  })

  test('the web port is named as such and a closed port as closed: one line, exit status 1', async () => {
    await using server = await startTestServer()
    await using web = await spawnTerm(server, { name: 'alice', port: server.webPort })
    expect(await web.exited()).toBe(1)
    expect(web.errors.filter((line) => line !== '')).toEqual([
      `chatbox: cannot join 127.0.0.1:${server.webPort}: it answers HTTPS: that looks like ` +
        "chatbox's web port; the terminal port is usually 8444",
    ])
    const port = await closedPort()
    await using nobody = await spawnTerm(server, { name: 'alice', port })
    expect(await nobody.exited()).toBe(1)
    expect(nobody.errors.filter((line) => line !== '')).toEqual([
      `chatbox: nothing answers at 127.0.0.1:${port}: is the server running, and is this its terminal port?`,
    ])
  })

  test('--json gives /who, the room code, a self-verify and a refusal as fields, never free text', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'wss')
    await using alice = await spawnTerm(server, { name: 'alice', args: ['--json'] })
    const missing = join(alice.home, 'missing.txt')
    for (const line of ['/who', '/room', '/verify alice', `/file ${missing}`, '/save 4', '/help'])
      alice.send(line)
    alice.endInput()
    expect(await alice.exited()).toBe(1)
    const parsed = alice.lines.filter((line) => line !== '').map((line) => JSON.parse(line))
    const notices = parsed
      .filter((line) => NOTICE_TYPES.has(line.type))
      .map((line) => v.parse(TermNoticeSchema, line))
    // Each line is an engine event or a notice with fields; none is a sentence to pick apart.
    expect(parsed.filter((line) => line.type === 'notice')).toEqual([])
    expect(notices.map((notice) => notice.type)).toEqual([
      'who',
      'room-code',
      'self',
      'refused',
      'refused',
      'help',
    ])
    const [who, room, self, noFile, noHeld, help] = notices
    expect(who).toEqual({
      type: 'who',
      members: [
        expect.objectContaining({ name: 'alice', you: true, online: true, inGroup: true }),
        {
          name: 'bob',
          you: false,
          fingerprint: expect.stringMatching(/^[0-9a-f]{4}( [0-9a-f]{4})+$/),
          online: true,
          inGroup: true,
          verified: false,
          keyChanged: false,
        },
      ],
    })
    expect(room).toEqual({
      type: 'room-code',
      roomCode: expect.stringMatching(/^\d{4}-\d{4}-\d{4}$/),
    })
    expect(self).toEqual({
      type: 'self',
      name: 'alice',
      fingerprint: expect.stringMatching(/^[0-9a-f]{4}( [0-9a-f]{4})+$/),
    })
    expect(noFile).toMatchObject({ type: 'refused', command: 'file', code: 'no_such_file' })
    expect(noHeld).toMatchObject({ type: 'refused', command: 'save', code: 'not_held' })
    expect(help).toMatchObject({ type: 'help' })
    await bob.waitFor('presence', (event) => event.event === 'leave' && event.name === 'alice')
  })
})

const NOTICE_TYPES = new Set(
  TermNoticeSchema.options.map((option) => option.entries.type.literal as string),
)
