// The room header's "Clear history": forgets the messages this browser keeps for this name, after
// asking (Cancel is the default answer, Escape cancels too). The engine does the forgetting.
import { createEffect, createSignal } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { HISTORY_TEXTS } from '../lib/copy.ts'

export function ClearHistory(props: { chat: Chat }) {
  const [asking, setAsking] = createSignal(false)
  let dialog: HTMLDialogElement | undefined
  createEffect(() => {
    if (!dialog) return
    if (asking() && !dialog.open) dialog.showModal()
    if (!asking() && dialog.open) dialog.close()
  })
  const clear = () => {
    setAsking(false)
    void props.chat.clearHistory()
  }
  return (
    <>
      <button
        type="button"
        class="quiet small clear-history"
        title="Forget the messages this browser keeps between visits"
        onClick={() => setAsking(true)}
      >
        Clear history
      </button>
      <dialog
        ref={dialog}
        class="dialog"
        aria-labelledby="clear-history-title"
        aria-describedby="clear-history-text"
        onClose={() => setAsking(false)}
      >
        <h2 id="clear-history-title">Clear history?</h2>
        <p id="clear-history-text">{HISTORY_TEXTS.confirm}</p>
        <div class="actions">
          <button type="button" class="danger" onClick={clear}>
            Clear history
          </button>
          {/* Focused when the dialog opens: a stray Enter keeps the history. */}
          <button type="button" autofocus onClick={() => setAsking(false)}>
            Cancel
          </button>
        </div>
      </dialog>
    </>
  )
}
