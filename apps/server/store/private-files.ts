// Owns the modes of the store's files on disk: only the server's user may read them, whatever the
// directory's mode or the umask. Knows nothing of what SQLite writes in them.
import { chmodSync, closeSync, openSync, statSync } from 'node:fs'

/**
 * Creates the database file empty with mode 0600 before SQLite opens it (an empty file is an
 * empty database), and takes group and other access from one that exists (the owner's bits stay,
 * so a read-only file stays read-only). SQLite gives the -wal and -shm files it creates the
 * database's mode, so they follow; ones left by an older version or a crash are tightened here.
 */
export function makeStorePrivate(file: string): void {
  try {
    // O_EXCL: made here, with this mode, or not at all (an existing file or symlink is left).
    closeSync(openSync(file, 'wx', 0o600))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  for (const path of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      const mode = statSync(path).mode & 0o777
      if ((mode & 0o077) !== 0) chmodSync(path, mode & 0o700)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Absent is fine; another user's file (shared on purpose) is theirs to set, and on a
      // read-only mount SQLite's own first write reports the problem more clearly.
      if (code !== 'ENOENT' && code !== 'EPERM' && code !== 'EROFS') throw error
    }
  }
}
