// A backup of one identity sealed with a passphrase: the one file format both clients write and
// read (scrypt, then AES-256-GCM from WebCrypto). Knows nothing of files, pages or servers.
import { scryptAsync } from '@noble/hashes/scrypt.js'
import * as v from 'valibot'
import { BASE64URL_PATTERN, decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import { StoredIdentitySchema } from './stores.ts'

const Base64url = v.pipe(v.string(), v.regex(BASE64URL_PATTERN))

/**
 * 2^17 × r=8 is 128 MiB per guess, OWASP's scrypt floor times four; the range accepted on open
 * keeps a hostile file from asking for gigabytes (2^20 is 1 GiB) or for a weak key.
 */
export const BACKUP_KDF = { N: 2 ** 17, r: 8, p: 1 } as const
const MIN_LOG_N = 15
const MAX_LOG_N = 20

export const IdentityBackupSchema = v.object({
  format: v.literal('chatbox-identity-backup'),
  version: v.literal(1),
  kdf: v.object({
    name: v.literal('scrypt'),
    N: v.pipe(
      v.number(),
      v.check(
        (n) => Number.isInteger(Math.log2(n)) && n >= 2 ** MIN_LOG_N && n <= 2 ** MAX_LOG_N,
        `N must be a power of two from 2^${MIN_LOG_N} to 2^${MAX_LOG_N}`,
      ),
    ),
    r: v.literal(8),
    p: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4)),
    salt: v.pipe(Base64url, v.length(22)),
  }),
  cipher: v.object({ name: v.literal('AES-256-GCM'), iv: v.pipe(Base64url, v.length(16)) }),
  sealed: Base64url,
})
export type IdentityBackup = v.InferOutput<typeof IdentityBackupSchema>

/** What is sealed: the identity, and the name it was used under when the client knew one. */
export const BackupContentSchema = v.object({
  identity: StoredIdentitySchema,
  name: v.optional(v.string()),
})
export type BackupContent = v.InferOutput<typeof BackupContentSchema>

export class IdentityBackupError extends Error {
  override readonly name = 'IdentityBackupError'
}

/** Bound to the ciphertext so that a header or content from another format cannot pass. */
const ASSOCIATED = new TextEncoder().encode('chatbox identity backup v1')

export interface SealOptions {
  readonly kdf?: { readonly N: number; readonly r: 8; readonly p: number }
  readonly onProgress?: (fraction: number) => void
}

/** The backup file's text (JSON): what `openIdentityBackup` reads with the same passphrase. */
export async function sealIdentityBackup(
  content: BackupContent,
  passphrase: string,
  options: SealOptions = {},
): Promise<string> {
  if (passphrase.length === 0) throw new IdentityBackupError('the passphrase is empty')
  const kdf = options.kdf ?? BACKUP_KDF
  const salt = crypto.getRandomValues(new Uint8Array(16))
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const key = await deriveKey(passphrase, salt, kdf, options.onProgress)
  const plain = new TextEncoder().encode(JSON.stringify(v.parse(BackupContentSchema, content)))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: ASSOCIATED },
    key,
    plain,
  )
  const backup: IdentityBackup = {
    format: 'chatbox-identity-backup',
    version: 1,
    kdf: { name: 'scrypt', ...kdf, salt: encodeBase64url(salt) },
    cipher: { name: 'AES-256-GCM', iv: encodeBase64url(iv) },
    sealed: encodeBase64url(new Uint8Array(sealed)),
  }
  return `${JSON.stringify(backup, null, 2)}\n`
}

/** Throws IdentityBackupError, saying whether the file or the passphrase is wrong. */
export async function openIdentityBackup(
  text: string,
  passphrase: string,
  onProgress?: (fraction: number) => void,
): Promise<BackupContent> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new IdentityBackupError('this is not a chatbox identity backup (not JSON)')
  }
  const parsed = v.safeParse(IdentityBackupSchema, json)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const at = issue ? v.getDotPath(issue) : null
    throw new IdentityBackupError(
      `this is not a chatbox identity backup, or it is damaged (${at ? `${at}: ` : ''}${issue?.message})`,
    )
  }
  const { kdf, cipher, sealed } = parsed.output
  const key = await deriveKey(passphrase, decodeBase64url(kdf.salt), kdf, onProgress)
  let plain: ArrayBuffer
  try {
    plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: decodeBase64url(cipher.iv), additionalData: ASSOCIATED },
      key,
      decodeBase64url(sealed),
    )
  } catch {
    // GCM cannot tell the two apart: either way nothing in the file can be believed.
    throw new IdentityBackupError('wrong passphrase, or the backup file was damaged or changed')
  }
  let content: unknown
  try {
    content = JSON.parse(new TextDecoder().decode(plain))
  } catch {
    throw new IdentityBackupError('the backup opened but holds no identity (not JSON)')
  }
  const result = v.safeParse(BackupContentSchema, content)
  if (!result.success) throw new IdentityBackupError('the backup opened but holds no identity')
  return result.output
}

async function deriveKey(
  passphrase: string,
  salt: Uint8Array,
  kdf: { readonly N: number; readonly r: number; readonly p: number },
  onProgress?: (fraction: number) => void,
): Promise<CryptoKey> {
  const raw = await scryptAsync(passphrase.normalize('NFC'), salt, {
    ...kdf,
    dkLen: 32,
    maxmem: 2 ** 31,
    onProgress,
  })
  const key = await crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, [
    'encrypt',
    'decrypt',
  ])
  return key
}
