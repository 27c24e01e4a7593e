// The question asked when a .txt file is over the size limit: send its head, marked truncated,
// or cancel. Reads the chat store; the engine does the truncating.
import { Show } from 'solid-js'
import { describeSize } from '../../../shared/client/files.ts'
import type { Chat } from '../lib/chat.ts'
import { createModal } from '../lib/modal.ts'

export function OversizeDialog(props: { chat: Chat }) {
  let dialog: HTMLDialogElement | undefined
  // Escape closes the dialog without a button: that is a cancel.
  const onClose = () => {
    if (props.chat.state.oversize) void props.chat.resolveOversize(false)
  }
  createModal(
    () => dialog,
    () => props.chat.state.oversize !== undefined,
  )
  return (
    <dialog ref={dialog} class="dialog" aria-labelledby="oversize-title" onClose={onClose}>
      <Show when={props.chat.state.oversize}>
        {(file) => (
          <>
            <h2 id="oversize-title">This file is too large</h2>
            <p>
              <span class="file-name">{file().name}</span> is {describeSize(file().size)}; a file
              may be at most {describeSize(props.chat.state.maxFileBytes)}. Send its first{' '}
              {describeSize(props.chat.state.maxFileBytes)}, marked as truncated, or cancel?
            </p>
            <div class="actions">
              <button
                type="button"
                class="primary"
                onClick={() => void props.chat.resolveOversize(true)}
              >
                Send the first {describeSize(props.chat.state.maxFileBytes)}
              </button>
              <button type="button" onClick={() => void props.chat.resolveOversize(false)}>
                Cancel
              </button>
            </div>
          </>
        )}
      </Show>
    </dialog>
  )
}
