// Asks before leaving the room for good: leaving drops this name's place in the group, and what
// is sent meanwhile can never be read here. Stay is the default answer; Escape means stay too.
import { createModal } from '../lib/modal.ts'

export function LeaveDialog(props: { open: boolean; onStay: () => void; onLeave: () => void }) {
  let dialog: HTMLDialogElement | undefined
  createModal(
    () => dialog,
    () => props.open,
  )
  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="leave-title"
      aria-describedby="leave-text"
      onClose={() => {
        if (props.open) props.onStay()
      }}
    >
      <h2 id="leave-title">Leave the room for good?</h2>
      <p id="leave-text">
        You leave the encrypted group, and the others see you go. What is sent while you are gone
        can never be read here, even if you join again. Your key stays in this browser.
      </p>
      <div class="actions">
        <button type="button" class="danger" onClick={() => props.onLeave()}>
          Leave the room
        </button>
        {/* Focused when the dialog opens: a stray Enter keeps you in the room. */}
        <button type="button" autofocus onClick={() => props.onStay()}>
          Stay
        </button>
      </div>
    </dialog>
  )
}
