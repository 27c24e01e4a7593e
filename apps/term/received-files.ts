// What becomes of a file someone sent: saved at once while this session's save quota lasts, else
// shown and held in memory until the user asks for it with /save N. Knows the download folder,
// not the screen: it answers with the notice to show (notices.ts).

import { describeSize } from '../../shared/client/files.ts'
import type { DownloadFolder } from './downloads.ts'
import { Refusal, type TermNotice } from './notices.ts'

/**
 * Unsaved files kept for /save, newest first, up to this many bytes (and always the latest one):
 * a flood past the quota must not fill memory instead of the disk.
 */
export const HELD_BYTES = 32 * 1024 * 1024

export interface ReceivedFile {
  readonly name: string
  readonly bytes: Uint8Array
}

export interface ReceivedFiles {
  /** Saves or holds a file from someone else; the notice says which, and its number. */
  receive(file: ReceivedFile): TermNotice
  /** Saves the held file with this number, whatever the quota; a Refusal when there is none. */
  save(number: number): TermNotice
}

export function createReceivedFiles(folder: DownloadFolder, quotaBytes: number): ReceivedFiles {
  const held = new Map<number, ReceivedFile>()
  let heldBytes = 0
  let received = 0
  /** Bytes saved without the user asking; what the quota bounds. */
  let savedAutomatically = 0

  function hold(number: number, file: ReceivedFile): void {
    held.set(number, file)
    heldBytes += file.bytes.length
    for (const [oldest, old] of held) {
      if (heldBytes <= HELD_BYTES || oldest === number) break
      held.delete(oldest)
      heldBytes -= old.bytes.length
    }
  }

  return {
    receive(file) {
      received += 1
      const number = received
      const { name } = file
      if (savedAutomatically + file.bytes.length > quotaBytes) {
        hold(number, file)
        return {
          type: 'held',
          file: number,
          name,
          usedBytes: savedAutomatically,
          quotaBytes,
        }
      }
      try {
        const path = folder.save(file.name, file.bytes)
        savedAutomatically += file.bytes.length
        return { type: 'saved', file: number, name, path }
      } catch (error) {
        hold(number, file)
        return { type: 'save-failed', file: number, name, message: (error as Error).message }
      }
    },
    save(number) {
      const file = held.get(number)
      if (!file) {
        throw new Refusal(
          'not_held',
          `no unsaved file ${number} is held: /save takes the number a "not saved" notice gave, ` +
            `and only the latest ${describeSize(HELD_BYTES)} of them are kept`,
        )
      }
      const path = folder.save(file.name, file.bytes)
      held.delete(number)
      heldBytes -= file.bytes.length
      return { type: 'saved', file: number, name: file.name, path }
    },
  }
}
