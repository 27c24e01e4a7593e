// The composer: Enter sends, Shift+Enter starts a new line, and a .txt file can be picked. Says
// why sending is not possible right now. Calls the chat's commands; no protocol here.
import { createSignal, onMount, Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'

export function Composer(props: { chat: Chat }) {
  const [text, setText] = createSignal('')
  // A phone's on-screen keyboard has no Shift+Enter to offer; its Enter key says "send".
  const touch = matchMedia('(pointer: coarse)').matches
  const placeholder = touch
    ? 'Write a message'
    : 'Write a message — Enter sends, Shift+Enter adds a line'
  let picker: HTMLInputElement | undefined
  let box: HTMLTextAreaElement | undefined

  // The join form the focus was in is gone: it would fall to the page's body, and a keyboard user
  // start from the top. Not on touch screens, where it would open the on-screen keyboard.
  onMount(() => {
    const onBody = document.activeElement === null || document.activeElement === document.body
    if (onBody && !touch) box?.focus()
  })

  const waiting = () => {
    const status = props.chat.state.status
    if (status === 'connecting' || status === 'joining') return 'Waiting to join the group…'
    if (status === 'closed') return 'Not connected.'
    if (props.chat.state.keyChanges.length > 0) {
      return 'Sending waits until you accept the changed key above.'
    }
    return undefined
  }

  const send = async () => {
    const typed = text()
    if (typed.trim() === '') return
    // Cleared at once: the message is on the list, marked, from this moment. Cleared only when
    // the send resolved (after its pacing, encryption and save), it wiped whatever was typed
    // meanwhile. One refused before it went comes back, unless something new is being typed.
    setText('')
    if (!(await props.chat.sendText(typed)) && text() === '') setText(typed)
  }

  const onKeyDown = (event: KeyboardEvent) => {
    // isComposing: Enter that confirms an IME candidate is not a send.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault()
      void send()
    }
  }

  const onPick = (event: Event & { currentTarget: HTMLInputElement }) => {
    const file = event.currentTarget.files?.[0]
    // Cleared so that picking the same file again is a change too.
    event.currentTarget.value = ''
    if (file) void props.chat.sendFile(file)
  }

  return (
    <div class="composer-bar">
      <Show when={props.chat.state.problem}>
        {(problem) => (
          <div class="problem" role="alert">
            <p>{problem()}</p>
            <button type="button" class="quiet small" onClick={() => props.chat.dismissProblem()}>
              Dismiss
            </button>
          </div>
        )}
      </Show>
      <Show when={waiting()}>{(reason) => <p class="composer-hint">{reason()}</p>}</Show>
      <form
        class="composer"
        onSubmit={(event) => {
          event.preventDefault()
          void send()
        }}
      >
        <label for="composer-text" class="visually-hidden">
          Message
        </label>
        <textarea
          ref={box}
          id="composer-text"
          rows={2}
          placeholder={placeholder}
          enterkeyhint="send"
          value={text()}
          onInput={(event) => setText(event.currentTarget.value)}
          onKeyDown={onKeyDown}
        />
        <input
          ref={picker}
          type="file"
          accept=".txt,text/plain"
          // Reached through the "Send a file…" button, which can say what it is for.
          hidden
          onChange={onPick}
        />
        <div class="composer-actions">
          <button
            type="button"
            disabled={waiting() !== undefined}
            onClick={() => picker?.click()}
            title="Send a .txt file (or drop one on the page)"
          >
            Send a file…
          </button>
          <button type="submit" class="primary" disabled={waiting() !== undefined}>
            Send
          </button>
        </div>
      </form>
    </div>
  )
}
