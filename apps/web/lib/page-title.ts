// The tab title: how many messages arrived while the tab was hidden. Knows the document's
// visibility and title; nothing of the chat engine.
import { createEffect, createSignal, onCleanup } from 'solid-js'

/** Shows `(3) base` while hidden and messages came in; plain `base` once the tab is seen. */
export function trackUnreadInTitle(incoming: () => number, base: () => string): void {
  const [seenUpTo, setSeenUpTo] = createSignal(incoming())
  const [hidden, setHidden] = createSignal(document.hidden)
  const onVisibility = () => {
    setHidden(document.hidden)
    if (!document.hidden) setSeenUpTo(incoming())
  }
  document.addEventListener('visibilitychange', onVisibility)
  onCleanup(() => document.removeEventListener('visibilitychange', onVisibility))

  createEffect(() => {
    const count = incoming()
    // Arrivals while the tab is visible are read as they come.
    if (!hidden()) setSeenUpTo(count)
  })
  createEffect(() => {
    const unread = hidden() ? incoming() - seenUpTo() : 0
    document.title = unread > 0 ? `(${unread}) ${base()}` : base()
  })
}
