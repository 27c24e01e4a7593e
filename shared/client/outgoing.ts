// What a user's text or file becomes before it is encrypted: a checked payload with a fresh id.
// A file over the limit is refused unless the user chose to send its head. Pure but for hashing.
import { ChatError } from './chat-error.ts'
import { checkTextFile, truncateUtf8 } from './files.ts'
import { newMessageId, type Payload, sha256Hex } from './payload.ts'

/** The largest text message, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 64 * 1024

export interface FileToSend {
  readonly name: string
  /** The file, or (for a large one) at least its first maxFileBytes + 1 bytes. */
  readonly bytes: Uint8Array
  /** The whole file's size when `bytes` holds only its head. */
  readonly size?: number
}

export function textPayload(text: string): Payload {
  if (text.trim() === '') throw new ChatError('empty', 'nothing to send')
  if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
    throw new ChatError('too_long', 'a message is at most 64 KiB')
  }
  return { kind: 'text', id: newMessageId(), text }
}

/** `.txt` only; over `maxFileBytes` it throws `file_too_large` unless `truncate` is set. */
export async function filePayload(
  file: FileToSend,
  maxFileBytes: number,
  truncate: boolean,
): Promise<Payload> {
  const size = Math.max(file.size ?? 0, file.bytes.length)
  const check = checkTextFile(file.name, file.bytes, maxFileBytes)
  let bytes = file.bytes
  if (!check.ok || size > maxFileBytes) {
    if (!check.ok && check.code !== 'too_large') throw new ChatError('bad_file', check.message)
    if (!truncate) {
      throw new ChatError('file_too_large', `the file is over the ${maxFileBytes}-byte limit`)
    }
    bytes = truncateUtf8(file.bytes, maxFileBytes)
  }
  return {
    kind: 'file',
    id: newMessageId(),
    name: file.name.split(/[\\/]/).at(-1) ?? file.name,
    size,
    sha256: await sha256Hex(bytes),
    truncated: bytes.length < size,
    bytes,
  }
}
