// Modal dialogs the way keyboard and screen-reader users need them: opened and closed as a signal
// says, Tab kept inside while open, and focus given back on close to what opened it. Knows the DOM
// and Solid; nothing of the chat.
import { createEffect, onCleanup } from 'solid-js'

/** What Tab can reach inside a dialog. */
const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), textarea:not([disabled]), select:not([disabled]), summary, [tabindex]:not([tabindex="-1"])'

/** The message box: where focus goes when nothing better is left (a dropped file has no opener). */
export const COMPOSER_ID = 'composer-text'

/**
 * Shows `dialog` modally while `open()` holds. A native modal dialog makes the page behind it
 * inert, but Tab still walks out of it into the browser's own controls: it wraps here instead.
 */
export function createModal(dialog: () => HTMLDialogElement | undefined, open: () => boolean) {
  let opener: Element | null = null
  let shown = false

  const onKeyDown = (event: KeyboardEvent) => {
    const element = dialog()
    if (event.key !== 'Tab' || !element) return
    const stops = [...element.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((stop) =>
      stop.checkVisibility(),
    )
    const first = stops[0]
    const last = stops[stops.length - 1]
    if (!first || !last) return event.preventDefault()
    const active = document.activeElement
    if (event.shiftKey && (active === first || !element.contains(active))) {
      event.preventDefault()
      last.focus()
    } else if (!event.shiftKey && (active === last || !element.contains(active))) {
      event.preventDefault()
      first.focus()
    }
  }

  createEffect(() => {
    const element = dialog()
    if (!element) return
    if (open() && !shown) {
      shown = true
      opener = document.activeElement
      element.addEventListener('keydown', onKeyDown)
      if (!element.open) element.showModal()
    } else if (!open() && shown) {
      shown = false
      element.removeEventListener('keydown', onKeyDown)
      if (element.open) element.close()
      giveFocusBack(opener)
      opener = null
    }
  })
  onCleanup(() => dialog()?.removeEventListener('keydown', onKeyDown))
}

/**
 * Back to the opener; if it is gone or hidden (an item of a menu that closed), to that menu's
 * button, else to the message box, so focus is never dropped on the page's body.
 */
function giveFocusBack(opener: Element | null): void {
  if (opener instanceof HTMLElement && opener.isConnected && opener.checkVisibility()) {
    opener.focus()
    return
  }
  const menuButton = opener?.closest('.menu')?.querySelector<HTMLElement>('.menu-toggle')
  if (menuButton?.checkVisibility()) {
    menuButton.focus()
    return
  }
  document.getElementById(COMPOSER_ID)?.focus()
}
