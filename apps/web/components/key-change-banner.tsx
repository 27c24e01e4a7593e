// The loud warning when a member's key changed, with the button that accepts the new key; until
// then the engine refuses to send. Screen readers hear it from announcer.tsx's assertive region.
// Reads the chat store; no trust logic here.
import { For } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { COMPOSER_ID } from '../lib/modal.ts'

export function KeyChangeBanner(props: { chat: Chat }) {
  // The banner and its button go once accepted: focus moves on to where sending happens.
  const accept = async (name: string) => {
    await props.chat.acceptKey(name)
    document.getElementById(COMPOSER_ID)?.focus()
  }
  return (
    <For each={props.chat.state.keyChanges}>
      {(change) => (
        <div class="banner danger">
          <p>
            <strong>The key of {change.name} changed.</strong> They may have a new device or cleared
            their browser — or someone else is using their name. Ask them before you trust it.
            Nothing can be sent until you accept the new key.
          </p>
          <button type="button" onClick={() => void accept(change.name)}>
            Accept the new key for {change.name}
          </button>
        </div>
      )}
    </For>
  )
}
