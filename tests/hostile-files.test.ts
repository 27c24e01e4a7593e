import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { decodeState, encryptMessage } from '../shared/client/mls.ts'
import { sha256Hex } from '../shared/client/payload.ts'
import { importIdentity } from '../shared/crypto/identity-key.ts'
import { decodeBase64url, encodeBase64url } from '../shared/protocol/base64url.ts'
import { startEngineClient } from './support/engine.ts'
import { connectTls, join, startTestServer } from './support/harness.ts'
import { spawnTerm } from './support/term.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const utf8 = new TextEncoder()

/** A payload exactly as a hostile member could encrypt it, bypassing the sender's checks. */
function rawFilePayload(header: Record<string, unknown>, body: Uint8Array): Uint8Array {
  const head = utf8.encode(JSON.stringify({ kind: 'file', id: crypto.randomUUID(), ...header }))
  const out = new Uint8Array(4 + head.length + body.length)
  new DataView(out.buffer).setUint32(0, head.length)
  out.set(head, 4)
  out.set(body, 4 + head.length)
  return out
}

describe('files from a hostile member', () => {
  test('each odd file is refused or saved under a tame name at the receiver', async () => {
    await using server = await startTestServer()
    await using receiver = await spawnTerm(server, { name: 'alice', args: ['--json'] })
    await receiver.waitForLine(/"status":"ready"/)
    // mallory is a real member: she joins with the engine, then speaks MLS by hand.
    const mallory = await startEngineClient(server, 'mallory', 'wss')
    await receiver.waitForLine(/"members":\["alice","mallory"\]|"members":\["mallory","alice"\]/)
    await mallory.session.close()
    const snapshot = await mallory.stores.group.load()
    const stored = await mallory.stores.identity.load()
    if (!snapshot || !stored) throw new Error('mallory saved nothing')
    let state = decodeState(decodeBase64url(snapshot.state))
    await using wire = await connectTls(server)
    await join(wire, 'mallory', await importIdentity(stored))

    const body = utf8.encode('root:x:0:0\n')
    const digest = await sha256Hex(body)
    const whole = { size: body.length, sha256: digest, truncated: false }
    const cases: Array<[string, Uint8Array]> = [
      ['climbs out', rawFilePayload({ name: '../../etc/passwd.txt', ...whole }, body)],
      ['executable', rawFilePayload({ name: 'a.txt.exe', ...whole }, body)],
      ['nul in name', rawFilePayload({ name: 'no\u0000te.txt', ...whole }, body)],
      ['4 KB name', rawFilePayload({ name: `${'n'.repeat(4096)}.txt`, ...whole }, body)],
      [
        'binary',
        rawFilePayload(
          {
            name: 'photo.txt',
            size: 4,
            sha256: await sha256Hex(new Uint8Array([0x89, 0, 1, 2])),
            truncated: false,
          },
          new Uint8Array([0x89, 0, 1, 2]),
        ),
      ],
      ['size lies', rawFilePayload({ name: 'short.txt', ...whole, size: 999_999 }, body)],
      [
        'digest lies',
        rawFilePayload({ name: 'forged.txt', ...whole, sha256: '0'.repeat(64) }, body),
      ],
      ['after all that', rawFilePayload({ name: 'fine.txt', ...whole }, body)],
    ]
    for (const [, plaintext] of cases) {
      const encrypted = await encryptMessage(state, plaintext)
      state = encrypted.state
      wire.send({ type: 'app', ciphertext: encodeBase64url(encrypted.ciphertext) })
    }
    await receiver.waitForLine(/"type":"saved".*fine\.txt/)

    const saved = readdirSync(receiver.downloads).sort()
    expect(saved).toEqual(['fine.txt', 'note.txt', 'passwd.txt'])
    expect(readFileSync(`${receiver.downloads}/passwd.txt`, 'utf8')).toBe('root:x:0:0\n')
    const warnings = receiver.lines.filter(
      (line) => line.includes('"type":"warning"') && !line.includes('history_unreadable'),
    )
    expect(warnings.length).toBe(5)
    expect(warnings.join('\n')).toContain('only .txt')
    expect(warnings.join('\n')).toContain('the payload header is 4273 bytes, over 4096')
    expect(warnings.join('\n')).toMatch(/NUL|nul/)
    expect(warnings.join('\n')).toContain('a whole file of 999999 bytes was announced')
    expect(warnings.join('\n')).toContain('checksum does not match')
  })
})
