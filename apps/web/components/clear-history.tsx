// The question behind the header menu's "Clear history": forgets the messages this browser keeps
// for this name, after asking (Cancel is the default answer, Escape cancels too). The engine does
// the forgetting.
import type { Chat } from '../lib/chat.ts'
import { HISTORY_TEXTS } from '../lib/copy.ts'
import { createModal } from '../lib/modal.ts'

export function ClearHistoryDialog(props: { chat: Chat; open: boolean; onDone: () => void }) {
  let dialog: HTMLDialogElement | undefined
  createModal(
    () => dialog,
    () => props.open,
  )
  const clear = () => {
    props.onDone()
    void props.chat.clearHistory()
  }
  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="clear-history-title"
      aria-describedby="clear-history-text"
      onClose={() => props.onDone()}
    >
      <h2 id="clear-history-title">Clear history?</h2>
      <p id="clear-history-text">{HISTORY_TEXTS.confirm}</p>
      <div class="actions">
        <button type="button" class="danger" onClick={clear}>
          Clear history
        </button>
        {/* Focused when the dialog opens: a stray Enter keeps the history. */}
        <button type="button" autofocus onClick={() => props.onDone()}>
          Cancel
        </button>
      </div>
    </dialog>
  )
}
