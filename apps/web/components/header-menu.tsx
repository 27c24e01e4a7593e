// The room header's secondary actions (clear history, back up the key, link a device,
// notifications): in a row
// where the header has room, behind a "Menu" disclosure button where it has not (styles.css
// decides which). Keyboard: Enter or Space opens it on its first item, the arrow keys move,
// Escape closes it back onto its button. The dialogs the items open live outside it.
import { createSignal } from 'solid-js'
import type { Notifications } from '../lib/notifications.ts'
import { NotificationToggle } from './notification-toggle.tsx'

export function HeaderMenu(props: {
  notifications: Notifications
  onClearHistory: () => void
  onBackUpKey: () => void
  onLinkDevice: () => void
}) {
  const [open, setOpen] = createSignal(false)
  let toggle: HTMLButtonElement | undefined
  let panel: HTMLDivElement | undefined

  const items = () =>
    [...(panel?.querySelectorAll<HTMLElement>('button, input') ?? [])].filter((item) =>
      item.checkVisibility(),
    )

  const close = (refocus: boolean) => {
    setOpen(false)
    if (refocus) toggle?.focus()
  }

  const onKeyDown = (event: KeyboardEvent) => {
    if (!open()) return
    if (event.key === 'Escape') {
      event.preventDefault()
      close(true)
      return
    }
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return
    event.preventDefault()
    const all = items()
    const at = all.indexOf(document.activeElement as HTMLElement)
    const step = event.key === 'ArrowDown' ? 1 : -1
    all[(at + step + all.length) % all.length]?.focus()
  }

  // Focus leaving the menu (Tab past its end, a click elsewhere) closes it.
  const onFocusOut = (event: FocusEvent) => {
    const next = event.relatedTarget
    if (!(next instanceof Node) || !(event.currentTarget as Node).contains(next)) close(false)
  }

  /** An item that opens a dialog: the dialog notes who opened it before the menu hides. */
  const choose = (action: () => void) => () => {
    action()
    close(false)
  }

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: the keys move between the buttons inside, which are the controls; the wrapper only listens
    <div class="menu" onKeyDown={onKeyDown} onFocusOut={onFocusOut}>
      <button
        ref={toggle}
        type="button"
        class="quiet small menu-toggle"
        aria-expanded={open()}
        aria-controls="header-menu"
        onClick={() => {
          setOpen(!open())
          if (open()) items()[0]?.focus()
        }}
      >
        Menu
      </button>
      <div ref={panel} id="header-menu" class="menu-panel" classList={{ open: open() }}>
        <button
          type="button"
          class="quiet small clear-history"
          title="Forget the messages this browser keeps between visits"
          onClick={choose(props.onClearHistory)}
        >
          Clear history
        </button>
        <button
          type="button"
          class="quiet small backup-key"
          title="Download your key, sealed with a passphrase, to use on another device"
          onClick={choose(props.onBackUpKey)}
        >
          Back up my key
        </button>
        <button
          type="button"
          class="quiet small link-device"
          title="Approve a new device of yours by the code it shows, or unlink one"
          onClick={choose(props.onLinkDevice)}
        >
          Link a device
        </button>
        <NotificationToggle notifications={props.notifications} />
      </div>
    </div>
  )
}
