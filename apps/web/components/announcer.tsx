// The page's voice for screen readers: a polite live region that reads each new message, file,
// join and leave once as it arrives (the list itself is not a live region, so nothing is read
// twice and a reload's kept history is not read at all), and an assertive one for changed keys.
import { createEffect, For, on } from 'solid-js'
import { createStore } from 'solid-js/store'
import { addedSince, announcementOf } from '../lib/announce.ts'
import type { Chat } from '../lib/chat.ts'

/** Older sentences leave the region: it is heard, not read back. */
const KEPT = 5

export function Announcer(props: { chat: Chat }) {
  const [said, setSaid] = createStore<{ key: string; text: string }[]>([])
  let lastKey = props.chat.state.entries.at(-1)?.key

  createEffect(
    on(
      () => props.chat.state.entries.length,
      () => {
        const entries = props.chat.state.entries
        const added = addedSince(entries, lastKey)
        lastKey = entries.at(-1)?.key
        const sentences = added.flatMap((entry) => {
          const text = announcementOf(entry)
          return text === undefined ? [] : [{ key: entry.key, text }]
        })
        if (sentences.length > 0) setSaid((before) => [...before, ...sentences].slice(-KEPT))
      },
      { defer: true },
    ),
  )

  return (
    <div class="visually-hidden">
      <div class="announcements" aria-live="polite" aria-relevant="additions">
        <For each={said}>{(sentence) => <p>{sentence.text}</p>}</For>
      </div>
      <div class="key-change-alerts" aria-live="assertive">
        <For each={props.chat.state.keyChanges}>
          {(change) => (
            <p>
              Warning: the key of {change.name} changed. Nothing is sent until you accept the new
              key.
            </p>
          )}
        </For>
      </div>
    </div>
  )
}
