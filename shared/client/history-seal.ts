// Seals history at rest: AES-256-GCM under a device key, one block of records per seal with a
// fresh random nonce, bound to its owner (name and identity key) as associated data, so a block
// cannot be moved to another owner's history unnoticed. An append seals one record; a rewrite
// seals blocks of many, so that opening 10,000 kept messages takes tens of decryptions, not
// 10,000 (about 65 µs each in Chromium). Own messages still on their way are sealed the same way,
// under another label. Knows nothing of files or IndexedDB.
import { sha256 } from '@noble/hashes/sha2.js'
import * as v from 'valibot'
import { nameKey } from '../protocol/names.ts'
import {
  type HistoryOwner,
  type HistoryRecord,
  HistoryRecordSchema,
  type OutgoingRecord,
  OutgoingRecordSchema,
} from './stores.ts'

const NONCE_BYTES = 12
/** A block closes at this many records or this much JSON, whichever comes first. */
const BLOCK_RECORDS = 256
const BLOCK_BYTES = 64 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const BlockSchema = v.pipe(v.array(HistoryRecordSchema), v.minLength(1))

/**
 * Whether a load should rewrite what it read as blocks: when a session appended many records one
 * by one since the last rewrite, so that the next start opens tens of blocks, not thousands.
 */
export function worthCompacting(rows: number, records: number): boolean {
  return rows - Math.ceil(records / BLOCK_RECORDS) >= 64
}

export interface HistorySeal {
  /** Each block as nonce ‖ ciphertext ‖ tag, in order; one block for one record. */
  seal(records: readonly HistoryRecord[]): Promise<Uint8Array<ArrayBuffer>[]>
  /** The block's records, or undefined for anything that is not one of this owner's, whole. */
  open(sealed: Uint8Array): Promise<HistoryRecord[] | undefined>
}

function ownerLabel(owner: HistoryOwner): Uint8Array<ArrayBuffer> {
  return encoder.encode(`chatbox history v1\n${nameKey(owner.name)}\n${owner.identityKey}`)
}

/** A short stable name for an owner's records (a file name, an index key) that names nobody. */
export function ownerId(owner: HistoryOwner): string {
  return sha256(ownerLabel(owner)).subarray(0, 16).toHex()
}

/** A fresh device key that WebCrypto will never hand out (extractable: false). */
export function generateHistoryKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
}

/** The device key from its 32 stored bytes (the terminal keeps them in a 0600 file). */
export function importHistoryKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
}

/** The records as JSON blocks, in order, each within the block limits (or one record alone). */
function blocksOf(records: readonly HistoryRecord[]): string[] {
  const blocks: string[] = []
  let open: string[] = []
  let bytes = 0
  for (const record of records) {
    const json = JSON.stringify(v.parse(HistoryRecordSchema, record))
    if (open.length > 0 && (open.length >= BLOCK_RECORDS || bytes + json.length > BLOCK_BYTES)) {
      blocks.push(`[${open.join(',')}]`)
      open = []
      bytes = 0
    }
    open.push(json)
    bytes += json.length
  }
  if (open.length > 0) blocks.push(`[${open.join(',')}]`)
  return blocks
}

export function createHistorySeal(key: CryptoKey, owner: HistoryOwner): HistorySeal {
  const additionalData = ownerLabel(owner)
  return {
    seal: (records) =>
      Promise.all(
        blocksOf(records).map((block) => sealBytes(key, additionalData, encoder.encode(block))),
      ),
    open: (sealed) => openJson(key, additionalData, sealed, BlockSchema),
  }
}

/** Own messages still on their way (stores.ts), sealed as one block under the same device key. */
export interface OutgoingSeal {
  seal(records: readonly OutgoingRecord[]): Promise<Uint8Array<ArrayBuffer>>
  open(sealed: Uint8Array): Promise<OutgoingRecord[] | undefined>
}

export function createOutgoingSeal(key: CryptoKey, owner: HistoryOwner): OutgoingSeal {
  // Another label than history's: a block of one can never be opened as the other.
  const additionalData = encoder.encode(
    `chatbox outgoing v1\n${nameKey(owner.name)}\n${owner.identityKey}`,
  )
  return {
    seal: (records) =>
      sealBytes(
        key,
        additionalData,
        encoder.encode(JSON.stringify(v.parse(OutgoingSchema, records))),
      ),
    open: (sealed) => openJson(key, additionalData, sealed, OutgoingSchema),
  }
}

const OutgoingSchema = v.array(OutgoingRecordSchema)

/** nonce ‖ AES-GCM ciphertext ‖ tag, with a fresh random nonce. */
async function sealBytes(
  key: CryptoKey,
  additionalData: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const iv = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData },
    key,
    plaintext,
  )
  const out = new Uint8Array(NONCE_BYTES + sealed.byteLength)
  out.set(iv)
  out.set(new Uint8Array(sealed), NONCE_BYTES)
  return out
}

/** What `sealBytes` sealed, as JSON of `schema`; undefined for anything else, or not whole. */
async function openJson<T extends v.GenericSchema>(
  key: CryptoKey,
  additionalData: Uint8Array<ArrayBuffer>,
  sealed: Uint8Array,
  schema: T,
): Promise<v.InferOutput<T> | undefined> {
  if (sealed.length <= NONCE_BYTES) return undefined
  let plaintext: ArrayBuffer
  try {
    plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.slice(0, NONCE_BYTES), additionalData },
      key,
      sealed.slice(NONCE_BYTES),
    )
  } catch {
    return undefined
  }
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(plaintext))
  } catch {
    return undefined
  }
  const result = v.safeParse(schema, json)
  return result.success ? result.output : undefined
}
