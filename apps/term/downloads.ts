// Files in and out of the terminal: reading what /file names, saving what arrives under a
// sanitized name inside the download directory, never overwriting. No chat logic here.
import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, extname, join, resolve, sep } from 'node:path'
import { sanitizeFileName } from '../../shared/client/files.ts'

export interface FileOnDisk {
  readonly name: string
  /** The whole file, or its first `limit + 1` bytes when it is larger. */
  readonly bytes: Uint8Array
  readonly size: number
}

/** Reads at most limit + 1 bytes: enough to know it is too large and to send its head. */
export async function readFileForSending(path: string, limit: number): Promise<FileOnDisk> {
  const full = resolve(path.startsWith('~/') ? join(homedir(), path.slice(2)) : path)
  const stats = statSync(full)
  if (!stats.isFile()) throw new Error(`${path} is not a file`)
  const bytes = await Bun.file(full)
    .slice(0, limit + 1)
    .bytes()
  return { name: basename(full), bytes, size: stats.size }
}

/**
 * Saves under the sanitized base name, adding " (1)", " (2)", … before the extension when the
 * name is taken. The exclusive create ('wx') makes "taken" and "write" one step, so a file that
 * appears meanwhile is never overwritten.
 */
export function saveReceivedFile(dir: string, name: string, bytes: Uint8Array): string {
  const root = resolve(dir)
  mkdirSync(root, { recursive: true, mode: 0o700 })
  const safe = sanitizeFileName(name)
  const extension = extname(safe)
  const stem = safe.slice(0, safe.length - extension.length)
  for (let attempt = 0; attempt < 10_000; attempt += 1) {
    const candidate = attempt === 0 ? safe : `${stem} (${attempt})${extension}`
    const path = resolve(root, candidate)
    if (!path.startsWith(root + sep)) throw new Error(`refusing to save outside ${root}`)
    let fd: number
    try {
      fd = openSync(path, 'wx', 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw error
    }
    try {
      writeSync(fd, bytes)
    } finally {
      closeSync(fd)
    }
    return path
  }
  throw new Error(`too many files named like ${safe} in ${root}`)
}
