// Desktop notifications for what others send while the tab is hidden: asked for only from a click,
// off by a toggle the browser remembers. Knows the engine's events and the Notification API;
// nothing of the session or the components.
import { createStore } from 'solid-js/store'
import type { ChatEvent } from '../../../shared/client/events.ts'
import { describeSize } from '../../../shared/client/files.ts'
import { visibleText } from '../../../shared/client/visible-text.ts'

export type NotificationAccess = NotificationPermission | 'unsupported'

export interface NotificationState {
  /** What the browser allows: 'default' until asked. */
  access: NotificationAccess
  /** The user's toggle, remembered across visits; on until switched off. */
  enabled: boolean
}

export interface Notifications {
  readonly state: NotificationState
  /** Asks the browser for permission: only from a click, never on load. */
  ask(): Promise<void>
  setEnabled(enabled: boolean): void
  /** Shows a message or file from someone else, if the tab is hidden and notifications are on. */
  notice(event: ChatEvent): void
}

const STORAGE_KEY = 'chatbox.notifications'
/** Enough of a message to know what it is about; the rest is in the tab. */
const PREVIEW_CHARS = 80

/** The first words of a message, on one line, with nothing in it that could reorder or hide. */
export function firstWords(text: string, limit = PREVIEW_CHARS): string {
  const line = visibleText(text.replace(/\s+/g, ' ').trim())
  if (line.length <= limit) return line
  const cut = line.slice(0, limit)
  const space = cut.lastIndexOf(' ')
  return `${space > limit / 2 ? cut.slice(0, space) : cut}…`
}

/** The title and body of an event's notification, or undefined when it deserves none. */
export function notificationOf(event: ChatEvent): { title: string; body: string } | undefined {
  if (event.type === 'message' && !event.own) {
    return { title: visibleText(event.from), body: firstWords(event.text) }
  }
  if (event.type === 'file' && !event.own) {
    const body = `sent ${firstWords(event.name)} (${describeSize(event.size)})`
    return { title: visibleText(event.from), body }
  }
  return undefined
}

function currentAccess(): NotificationAccess {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission
}

export function createNotifications(storage: Storage): Notifications {
  const [state, setState] = createStore<NotificationState>({
    access: currentAccess(),
    enabled: storage.getItem(STORAGE_KEY) !== 'off',
  })

  function setEnabled(enabled: boolean): void {
    setState('enabled', enabled)
    storage.setItem(STORAGE_KEY, enabled ? 'on' : 'off')
  }

  return {
    state,
    async ask() {
      if (typeof Notification === 'undefined') return
      const answer = await Notification.requestPermission()
      setState('access', answer)
      if (answer === 'granted') setEnabled(true)
    },
    setEnabled,
    notice(event) {
      const shown = notificationOf(event)
      // Read again each time: the user may have changed it in the browser's settings.
      if (!shown || !document.hidden || !state.enabled || currentAccess() !== 'granted') return
      const notification = new Notification(shown.title, { body: shown.body, tag: 'chatbox' })
      notification.onclick = () => {
        window.focus()
        notification.close()
      }
    },
  }
}
