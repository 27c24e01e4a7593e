import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clientStateDir, createFileStores } from '../shared/client/file-stores.ts'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'
import { spawnTerm } from './support/term.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('the terminal client in pipe mode', () => {
  test('two terminal clients exchange messages and a file', async () => {
    await using server = await startTestServer()
    await using alice = await spawnTerm(server, { name: 'alice' })
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
    const saved = JSON.parse(await bob.waitForLine(/saved to/)).text.replace('saved to ', '')
    expect(saved).toBe(join(bob.downloads, 'notes.txt'))
    expect(readFileSync(saved, 'utf8')).toBe('first line\nsecond line\n')

    // End of input leaves the room cleanly, after what was sent has reached the server.
    alice.send('bye now')
    alice.endInput()
    expect(await alice.exited()).toBe(0)
    await bob.waitForLine(/"text":"bye now"/)
    await bob.waitForLine(/"event":"leave","name":"alice"/)
  })

  test('odd files: a binary .txt is refused, an oversize one is cut or cancelled, names are tamed', async () => {
    await using server = await startTestServer()
    await using alice = await spawnTerm(server, { name: 'alice' })
    await alice.waitForLine(/^-- ready/)
    await using carol = await spawnTerm(server, { name: 'carol', args: ['--truncate'] })
    await carol.waitForLine(/^-- ready/)
    await alice.waitForLine(/carol joined/)

    const binary = join(carol.home, 'photo.txt')
    writeFileSync(binary, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]))
    carol.send(`/file ${binary}`)
    await carol.waitForLine(/NUL|not UTF-8|UTF-8/)

    const big = join(carol.home, 'big.txt')
    writeFileSync(big, 'x'.repeat(1_048_576 + 10))
    carol.send(`/file ${big}`)
    await alice.waitForLine(/carol sent big\.txt \(1\.0 MB, truncated to 1\.0 MB\)/)
    await alice.waitForLine(/saved to .*big\.txt/)
    const saved = readFileSync(join(alice.downloads, 'big.txt'))
    expect(saved.length).toBe(1_048_576)

    // alice has no --truncate: the same file is not sent.
    const hers = join(alice.home, 'big.txt')
    writeFileSync(hers, 'y'.repeat(1_048_577))
    alice.send(`/file ${hers}`)
    await alice.waitForLine(/not sent: big\.txt/)

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
      args: ['--secret', 'correct horse battery'],
    })
    await right.waitForLine(/^-- ready/)
  })

  test('ANSI escapes in a message are shown as text, not obeyed', async () => {
    await using server = await startTestServer()
    await using alice = await spawnTerm(server, { name: 'alice' })
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
})
