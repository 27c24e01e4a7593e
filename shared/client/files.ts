// The `.txt` file rules both senders and receivers apply, and the safe name a receiver saves
// under. Pure functions over names and bytes: knows nothing of disks, browsers or MLS.

export type FileProblem = 'not_txt' | 'not_utf8' | 'has_nul' | 'too_large' | 'empty_name'

export type FileCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: FileProblem; readonly message: string }

const TXT_EXTENSION = '.txt'
const MAX_NAME_BYTES = 120
const FALLBACK_NAME = 'file.txt'

/**
 * Controls (C0, DEL, C1) can hide or fake parts of a name in a terminal; bidi overrides and
 * isolates (and the Arabic letter mark) make `evil\u202Etxt.exe` display as `evilexe.txt`;
 * zero-width characters and word joiners make two names that look alike differ.
 */
const INVISIBLE_CHARACTERS =
  /[\p{Cc}\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/gu
/** Refused by Windows, and `:` opens an alternate data stream on NTFS. */
const RESERVED_CHARACTERS = /[<>:"|?*]/g
/** Windows opens a device, not a file, for these names whatever the extension. */
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })

function hasTxtExtension(name: string): boolean {
  return name.toLowerCase().endsWith(TXT_EXTENSION)
}

/** The base name with everything unsafe removed, but nothing added: what checks judge. */
function cleanBaseName(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1)
  return base
    .toWellFormed()
    .replace(INVISIBLE_CHARACTERS, '')
    .replace(RESERVED_CHARACTERS, '_')
    .replace(/^[. ]+/, '')
    .replace(/[. ]+$/, '')
}

/** The longest prefix of whole code points that fits in `maxBytes` of UTF-8. */
function truncateCodePoints(text: string, maxBytes: number): string {
  let bytes = 0
  let end = 0
  for (const char of text) {
    bytes += encoder.encode(char).length
    if (bytes > maxBytes) break
    end += char.length
  }
  return text.slice(0, end)
}

/**
 * Content rules come before size, so `too_large` always means "a good text file, just too big":
 * then, and only then, does sending its truncated head make sense.
 */
export function checkTextFile(name: string, bytes: Uint8Array, maxBytes: number): FileCheck {
  const clean = cleanBaseName(name)
  if (clean === '') {
    return { ok: false, code: 'empty_name', message: 'the file has no usable name' }
  }
  // Leading dots are already gone, so a bare `.txt` arrives here as `txt` and fails this too.
  if (!hasTxtExtension(clean) || clean.length === TXT_EXTENSION.length) {
    return { ok: false, code: 'not_txt', message: `only ${TXT_EXTENSION} files can be sent` }
  }
  if (bytes.includes(0)) {
    return { ok: false, code: 'has_nul', message: 'the file contains NUL bytes: it is not text' }
  }
  try {
    strictDecoder.decode(bytes)
  } catch {
    return { ok: false, code: 'not_utf8', message: 'the file is not valid UTF-8 text' }
  }
  if (bytes.length > maxBytes) {
    return {
      ok: false,
      code: 'too_large',
      message: `the file is ${describeSize(bytes.length)}, over the ${describeSize(maxBytes)} limit`,
    }
  }
  return { ok: true }
}

/** The longest prefix of at most `maxBytes` that does not end inside a multi-byte character. */
export function truncateUtf8(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length <= maxBytes) return bytes.slice()
  let end = Math.max(0, Math.floor(maxBytes))
  // Continuation bytes are 10xxxxxx: back up to the lead byte of the character that was cut.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return bytes.slice(0, end)
}

/**
 * A name that is safe to save under on any common filesystem: one path component, visible
 * characters only, and always ending in `.txt`, so `a.txt.exe` becomes `a.txt.exe.txt` and can
 * never be run. Never `.`, `..`, empty, or containing `/` or `\`.
 */
export function sanitizeFileName(name: string): string {
  let clean = cleanBaseName(name)
  if (clean === '') return FALLBACK_NAME
  if (WINDOWS_DEVICE_NAME.test(clean)) clean = `_${clean}`
  const extension = hasTxtExtension(clean) ? clean.slice(-TXT_EXTENSION.length) : TXT_EXTENSION
  const stem = hasTxtExtension(clean) ? clean.slice(0, -TXT_EXTENSION.length) : clean
  // The stem starts with neither a dot nor a space, so keeping its first character suffices.
  return truncateCodePoints(stem, MAX_NAME_BYTES - TXT_EXTENSION.length) + extension
}

/** `512 B`, `1.5 KB`, `1.0 MB`: binary units, one decimal above bytes. */
export function describeSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  // Binary multiples, named as such: a "MB" of 1,048,576 bytes would be a quiet lie.
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  // Step up where rounding would otherwise print `1024.0 KB`.
  while (Number(value.toFixed(1)) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
