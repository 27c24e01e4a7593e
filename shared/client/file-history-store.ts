// The history store on disk, for Bun and Node: one 0600 file per owner beside the identity, one
// sealed block per line (base64url of nonce ‖ ciphertext): a record per append as messages are
// shown, blocks of many when the file is rewritten whole (to prune, or to gather appended lines).
// The 32-byte key sits in its own 0600 file in the same directory; own messages still on their way
// are one sealed line in a file of their own. Knows nothing of sockets, MLS or what records mean.
import { appendFile, chmod, link, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import * as v from 'valibot'
import { BASE64URL_PATTERN, decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import {
  createHistorySeal,
  createOutgoingSeal,
  type HistorySeal,
  importHistoryKey,
  type OutgoingSeal,
  ownerId,
  worthCompacting,
} from './history-seal.ts'
import { isErrnoException, privateDir, serialize, writeTextAtomic } from './private-files.ts'
import type { HistoryOwner, HistoryRecord, HistoryStore } from './stores.ts'

const KEY_FILE = 'history-key.json'
const KEY_BYTES = 32

const KeyFileSchema = v.object({
  key: v.pipe(v.string(), v.regex(BASE64URL_PATTERN), v.length(43)),
})

export function createFileHistoryStore(dir: string): HistoryStore {
  const keyFile = path.join(dir, KEY_FILE)
  let key: Promise<CryptoKey> | undefined

  /** The device key, made on first use; a failed attempt is tried again next time. */
  function deviceKey(): Promise<CryptoKey> {
    key ??= loadOrCreateKey(keyFile).catch((error: unknown) => {
      key = undefined
      throw error
    })
    return key
  }

  /** Every operation on an owner's file joins that file's queue when called, so in call order. */
  function withFile<T>(
    owner: HistoryOwner,
    task: (file: string, seal: HistorySeal) => Promise<T>,
  ): Promise<T> {
    const file = path.join(dir, `history-${ownerId(owner)}.log`)
    return serialize(file, async () => task(file, createHistorySeal(await deviceKey(), owner)))
  }

  return {
    load: (owner) =>
      withFile(owner, async (file, seal) => {
        const lines = (await readOrEmpty(file)).split('\n')
        // A line cut short by a crash mid-append has no newline after it.
        const torn = lines.pop() !== ''
        const opened = await Promise.all(
          lines.map((line) =>
            BASE64URL_PATTERN.test(line) ? seal.open(decodeBase64url(line)) : undefined,
          ),
        )
        const records = opened.flatMap((block) => block ?? [])
        if (worthCompacting(lines.length, records.length)) {
          await writeTextAtomic(file, await sealedLines(seal, records))
        } else if (torn || opened.includes(undefined)) {
          // Dropped, so that the next append starts on a line of its own.
          const readable = lines.filter((_, index) => opened[index] !== undefined)
          await writeTextAtomic(file, readable.map((line) => `${line}\n`).join(''))
        }
        return records
      }),
    append: (owner, record) =>
      withFile(owner, async (file, seal) => {
        const line = await sealedLines(seal, [record])
        await privateDir(dir)
        await appendFile(file, line, { encoding: 'utf8', mode: 0o600 })
        // The umask may have taken bits from 0600 on creation but never added any.
        await chmod(file, 0o600)
      }),
    replace: (owner, records) =>
      withFile(owner, async (file, seal) =>
        writeTextAtomic(file, await sealedLines(seal, records)),
      ),
    clear: (owner) => withFile(owner, (file) => rm(file, { force: true })),
    // One line, the whole list sealed, rewritten whole (atomically) at each change; none: no file.
    loadOutgoing: (owner) =>
      withOutgoing(owner, async (file, seal) => {
        const line = (await readOrEmpty(file)).trim()
        if (!BASE64URL_PATTERN.test(line)) return []
        return (await seal.open(decodeBase64url(line))) ?? []
      }),
    keepOutgoing: (owner, records) =>
      withOutgoing(owner, async (file, seal) => {
        if (records.length === 0) return rm(file, { force: true })
        await writeTextAtomic(file, `${encodeBase64url(await seal.seal(records))}\n`)
      }),
  }

  function withOutgoing<T>(
    owner: HistoryOwner,
    task: (file: string, seal: OutgoingSeal) => Promise<T>,
  ): Promise<T> {
    const file = path.join(dir, `outgoing-${ownerId(owner)}.sealed`)
    return serialize(file, async () => task(file, createOutgoingSeal(await deviceKey(), owner)))
  }
}

async function sealedLines(seal: HistorySeal, records: readonly HistoryRecord[]): Promise<string> {
  const blocks = await seal.seal(records)
  return blocks.map((block) => `${encodeBase64url(block)}\n`).join('')
}

async function readOrEmpty(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return ''
    throw error
  }
}

/**
 * Reads the key file, or makes one: written whole under a temporary name, then linked into place,
 * which fails if another process got there first; then that one's key is used.
 */
async function loadOrCreateKey(file: string): Promise<CryptoKey> {
  const existing = await readKey(file)
  if (existing) return existing
  const raw = crypto.getRandomValues(new Uint8Array(KEY_BYTES))
  const temp = `${file}.${process.pid}.${crypto.randomUUID()}.tmp`
  await writeTextAtomic(temp, `${JSON.stringify({ key: encodeBase64url(raw) })}\n`)
  try {
    await link(temp, file)
  } catch (error) {
    if (!isErrnoException(error) || error.code !== 'EEXIST') throw error
  } finally {
    await rm(temp, { force: true })
  }
  const stored = await readKey(file)
  if (!stored) throw new Error(`${file} vanished while it was being made`)
  return stored
}

/** The stored key; a damaged key file is replaced, since history it sealed cannot be read anyway. */
async function readKey(file: string): Promise<CryptoKey | undefined> {
  const text = await readOrEmpty(file)
  if (text === '') return undefined
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  const result = v.safeParse(KeyFileSchema, json)
  if (result.success) return importHistoryKey(decodeBase64url(result.output.key))
  await rm(file, { force: true })
  return undefined
}
