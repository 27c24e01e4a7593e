import { describe, expect, test } from 'bun:test'
import { encodeBase64url } from '../protocol/base64url.ts'
import {
  BACKUP_KDF,
  IdentityBackupError,
  openIdentityBackup,
  sealIdentityBackup,
} from './identity-backup.ts'

const identity = {
  privateKey: encodeBase64url(crypto.getRandomValues(new Uint8Array(48))),
  publicKey: encodeBase64url(crypto.getRandomValues(new Uint8Array(32))),
  createdAt: 1_700_000_000_000,
}
/** The lowest cost the format accepts, so the tests stay quick; the default is measured below. */
const quick = { kdf: { N: 2 ** 15, r: 8, p: 1 } } as const

describe('identity backups', () => {
  test('open with the same passphrase gives back the identity and name', async () => {
    const text = await sealIdentityBackup({ identity, name: 'alice' }, 'correct horse', quick)
    expect(await openIdentityBackup(text, 'correct horse')).toEqual({ identity, name: 'alice' })
    // The file holds no key material in the clear.
    expect(text).not.toContain(identity.privateKey)
    expect(text).not.toContain(identity.publicKey)
  })

  test('refuses a wrong passphrase', async () => {
    const text = await sealIdentityBackup({ identity }, 'correct horse', quick)
    await expect(openIdentityBackup(text, 'correct hose')).rejects.toThrow(
      new IdentityBackupError('wrong passphrase, or the backup file was damaged or changed'),
    )
  })

  test('refuses a file with one sealed byte changed', async () => {
    const text = await sealIdentityBackup({ identity }, 'pw', quick)
    const backup = JSON.parse(text)
    const sealed: string = backup.sealed
    backup.sealed = (sealed[0] === 'A' ? 'B' : 'A') + sealed.slice(1)
    await expect(openIdentityBackup(JSON.stringify(backup), 'pw')).rejects.toThrow(
      /wrong passphrase, or the backup file was damaged/,
    )
  })

  test('refuses a truncated file and one that is not a backup', async () => {
    const text = await sealIdentityBackup({ identity }, 'pw', quick)
    await expect(openIdentityBackup(text.slice(0, text.length / 2), 'pw')).rejects.toThrow(
      /not a chatbox identity backup \(not JSON\)/,
    )
    await expect(openIdentityBackup('{"format":"other"}', 'pw')).rejects.toThrow(
      /not a chatbox identity backup, or it is damaged \(format:/,
    )
  })

  test('refuses a file that asks for a cost outside 2^15 to 2^20 before deriving anything', async () => {
    const text = await sealIdentityBackup({ identity }, 'pw', quick)
    for (const N of [2 ** 14, 2 ** 21, 3 * 2 ** 15]) {
      const backup = JSON.parse(text)
      backup.kdf.N = N
      await expect(openIdentityBackup(JSON.stringify(backup), 'pw')).rejects.toThrow(
        /kdf\.N: N must be a power of two/,
      )
    }
  })

  test('refuses an empty passphrase', async () => {
    await expect(sealIdentityBackup({ identity }, '', quick)).rejects.toThrow(/passphrase is empty/)
  })

  test('the default cost (scrypt 2^17, r=8) seals and opens', async () => {
    const started = performance.now()
    const text = await sealIdentityBackup({ identity, name: 'alice' }, 'pw')
    const sealedMs = performance.now() - started
    expect(JSON.parse(text).kdf).toMatchObject(BACKUP_KDF)
    expect(await openIdentityBackup(text, 'pw')).toEqual({ identity, name: 'alice' })
    console.log(`scrypt 2^17 seal: ${sealedMs.toFixed(0)} ms; file ${text.length} bytes`)
  }, 30_000)
})
