// Files in and out of the terminal: reading what /file names, saving what arrives under a
// sanitized name inside the download directory, never overwriting. No chat logic here.
import { closeSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, extname, join, resolve, sep } from 'node:path'
import { sanitizeFileName } from '../../shared/client/files.ts'
import { Refusal, type RefusalCode } from './notices.ts'

export interface FileOnDisk {
  readonly name: string
  /** The whole file, or its first `limit + 1` bytes when it is larger. */
  readonly bytes: Uint8Array
  readonly size: number
}

/** Words for what goes wrong most when reading a file someone named, instead of `ENOENT: …`. */
const READ_PROBLEMS: Record<string, { code: RefusalCode; words: string }> = {
  ENOENT: { code: 'no_such_file', words: 'no such file' },
  ENOTDIR: { code: 'no_such_file', words: 'no such file' },
  EACCES: { code: 'cannot_read', words: 'not allowed to read' },
  EPERM: { code: 'cannot_read', words: 'not allowed to read' },
  EISDIR: { code: 'not_a_file', words: 'not a file' },
}

/**
 * Reads at most limit + 1 bytes: enough to know it is too large and to send its head. A file that
 * cannot be read is a Refusal that names it as the user typed it.
 */
export async function readFileForSending(path: string, limit: number): Promise<FileOnDisk> {
  const full = resolve(path.startsWith('~/') ? join(homedir(), path.slice(2)) : path)
  try {
    const stats = statSync(full)
    if (!stats.isFile()) throw new Refusal('not_a_file', `not a file: ${path}`, path)
    const bytes = await Bun.file(full)
      .slice(0, limit + 1)
      .bytes()
    return { name: basename(full), bytes, size: stats.size }
  } catch (error) {
    if (error instanceof Refusal) throw error
    const problem = READ_PROBLEMS[(error as NodeJS.ErrnoException).code ?? '']
    if (!problem)
      throw new Refusal('cannot_read', `cannot read ${path}: ${(error as Error).message}`, path)
    throw new Refusal(problem.code, `${problem.words}: ${path}`, path)
  }
}

/** Opens a new file for writing, failing with EEXIST if the name is taken (openSync's shape). */
export type OpenExclusive = (path: string, flags: 'wx', mode: number) => number

export interface DownloadFolder {
  /**
   * Saves under the sanitized base name, adding " (1)", " (2)", … before the extension when the
   * name is taken; returns the path.
   */
  save(name: string, bytes: Uint8Array): string
}

/** Bounds the tries for one file, should the folder fill with names this session never made. */
const MAX_ATTEMPTS = 10_000

/**
 * The folder received files go to. The exclusive create ('wx') makes "taken" and "write" one
 * step, so a file that appears meanwhile is never overwritten. The next number for each base name
 * is remembered, so a peer sending the same name again and again costs one open per file, not one
 * per file already there: after a collision with files from earlier sessions, one directory read
 * finds the highest number in use instead of trying each. `open` is injectable to count opens.
 */
export function createDownloadFolder(dir: string, open: OpenExclusive = openSync): DownloadFolder {
  const root = resolve(dir)
  const nextNumber = new Map<string, number>()

  function tryCreate(candidate: string, bytes: Uint8Array): string | undefined {
    const path = resolve(root, candidate)
    if (!path.startsWith(root + sep)) throw new Error(`refusing to save outside ${root}`)
    let fd: number
    try {
      fd = open(path, 'wx', 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined
      throw error
    }
    try {
      writeSync(fd, bytes)
    } finally {
      closeSync(fd)
    }
    return path
  }

  return {
    save(name, bytes) {
      mkdirSync(root, { recursive: true, mode: 0o700 })
      const safe = sanitizeFileName(name)
      const extension = extname(safe)
      const stem = safe.slice(0, safe.length - extension.length)
      let number = nextNumber.get(safe) ?? 0
      let scanned = false
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
        const candidate = number === 0 ? safe : `${stem} (${number})${extension}`
        const path = tryCreate(candidate, bytes)
        if (path !== undefined) {
          nextNumber.set(safe, number + 1)
          return path
        }
        number = scanned ? number + 1 : highestNumberIn(root, stem, extension) + 1
        scanned = true
      }
      throw new Error(`too many files named like ${safe} in ${root}`)
    },
  }
}

/**
 * The highest n of the files named `stem (n)extension` in the folder, 0 if there are none;
 * compared without case, as a case-insensitive filesystem would.
 */
function highestNumberIn(root: string, stem: string, extension: string): number {
  const prefix = `${stem} (`.toLowerCase()
  const suffix = `)${extension}`.toLowerCase()
  let highest = 0
  for (const entry of readdirSync(root)) {
    const lower = entry.toLowerCase()
    if (!lower.startsWith(prefix) || !lower.endsWith(suffix)) continue
    const digits = lower.slice(prefix.length, lower.length - suffix.length)
    if (/^\d{1,9}$/.test(digits)) highest = Math.max(highest, Number(digits))
  }
  return highest
}
