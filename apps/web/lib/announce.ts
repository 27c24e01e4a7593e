// What a screen reader is told as the room's timeline grows: one short sentence per new entry
// from someone else (sender, time, text or file) or about the room (joins, leaves, warnings).
// Pure: knows the timeline's entries and the page's words; nothing of the DOM.
import { describeSize } from '../../../shared/client/files.ts'
import { visibleText } from '../../../shared/client/visible-text.ts'
import { formatTime } from './format.ts'
import type { Entry } from './timeline-reducer.ts'

/** A long message is cut in what is read aloud; the list holds all of it. */
export const ANNOUNCED_CHARACTERS = 300

/** The sentence for a new entry, or undefined for what needs no telling (your own messages). */
export function announcementOf(entry: Entry, time = formatTime): string | undefined {
  switch (entry.kind) {
    case 'message': {
      if (entry.own) return undefined
      const text = visibleText(entry.text)
      const cut =
        text.length > ANNOUNCED_CHARACTERS ? `${text.slice(0, ANNOUNCED_CHARACTERS)}…` : text
      return `${entry.from} at ${time(entry.at)}: ${cut}`
    }
    case 'file':
      if (entry.own) return undefined
      return `${entry.from} at ${time(entry.at)} sent the file ${visibleText(entry.name)}, ${describeSize(entry.size)}`
    case 'notice':
      // The separators around kept history mark the list; they are not news. A changed key is
      // read by the assertive region: once is enough.
      return entry.tone === 'separator' || entry.saidAloud ? undefined : entry.text
  }
}

/**
 * The entries added at the end since `lastKey` was the last one: a list reset (kept history put
 * in before, clearing, leaving) brings nothing new to say.
 */
export function addedSince(entries: readonly Entry[], lastKey: string | undefined): Entry[] {
  if (lastKey === undefined) return [...entries]
  for (let index = entries.length - 1; index >= 0; index--) {
    if (entries[index]?.key === lastKey) return entries.slice(index + 1)
  }
  return []
}
