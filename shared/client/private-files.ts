// Private files for the client's stores, for Bun and Node: a 0700 directory, 0600 files written
// atomically, and one queue per file so that operations on it take turns. Knows no store format.
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises'
import path from 'node:path'

// One queue per file for the whole process, so that two stores opened on the same directory
// also take turns; operations run in call order and the last save wins.
const queues = new Map<string, Promise<void>>()

export function serialize<T>(file: string, task: () => Promise<T>): Promise<T> {
  const key = path.resolve(file)
  const result = (queues.get(key) ?? Promise.resolve()).then(task)
  const tail = result.then(
    () => {},
    () => {},
  )
  queues.set(key, tail)
  // Drop the entry once idle so a long-lived process does not keep one per file ever touched.
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key)
  })
  return result
}

/** The directory a store file goes in, private to the user whatever the umask. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  // mkdir leaves an existing directory's mode alone and applies the umask to a new one.
  await chmod(dir, 0o700)
}

/**
 * Writes a temp file beside the target (0600), syncs it, then renames it over the target: rename
 * is atomic within a directory, so after a crash the file is either the old one or the new one.
 */
export async function writeTextAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file)
  await privateDir(dir)
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomUUID()}.tmp`)
  try {
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(text, 'utf8')
      // The umask could have taken bits away from 0600 but never added any; chmod anyway so the
      // mode does not depend on the caller's environment.
      await handle.chmod(0o600)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  await syncDir(dir)
}

/** Makes the rename itself durable; some platforms cannot open a directory, so best effort. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // The data is already synced and renamed; only durability across a power cut is at stake.
  }
}

export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error
}
