// The loud warning when a member's key changed, with the button that accepts the new key; until
// then the engine refuses to send. Reads the chat store; no trust logic here.
import { For } from 'solid-js'
import type { Chat } from '../lib/chat.ts'

export function KeyChangeBanner(props: { chat: Chat }) {
  return (
    <For each={props.chat.state.keyChanges}>
      {(change) => (
        <div class="banner danger" role="alert">
          <p>
            <strong>The key of {change.name} changed.</strong> They may have a new device or cleared
            their browser — or someone else is using their name. Ask them before you trust it.
            Nothing can be sent until you accept the new key.
          </p>
          <button type="button" onClick={() => void props.chat.acceptKey(change.name)}>
            Accept the new key for {change.name}
          </button>
        </div>
      )}
    </For>
  )
}
