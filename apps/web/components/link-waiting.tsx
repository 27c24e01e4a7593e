// The join screen while this browser waits to be linked: its code, large and grouped as given (and
// spelled out for screen readers), where to type it, and the time it has left. Reads the chat
// store; the engine does the waiting.
import { createSignal, For, onCleanup, onMount, Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import type { Linking } from '../lib/chat-state.ts'
import { DEVICE_TEXTS } from '../lib/copy.ts'
import { formatTimeLeft, linkTimeLeft, spellCode } from '../lib/devices.ts'

export function LinkWaiting(props: { chat: Chat; linking: Linking }) {
  const [now, setNow] = createSignal(Date.now())
  const ticker = setInterval(() => setNow(Date.now()), 1000)
  onCleanup(() => clearInterval(ticker))
  const left = () => linkTimeLeft(props.linking.expiresAt, now())
  let heading: HTMLHeadingElement | undefined
  // The form this replaced had focus: the code is what to read next.
  onMount(() => heading?.focus())

  return (
    <main class="join">
      <h1>chatbox</h1>
      <section class="join-form link-waiting" aria-labelledby="link-waiting-title">
        <h2 id="link-waiting-title" ref={heading} tabindex="-1">
          Approve this browser as {props.chat.state.name}
        </h2>
        <p class="link-code">
          <span aria-hidden="true">
            <For each={props.linking.code.split('-')}>{(group) => <span>{group}</span>}</For>
          </span>
          <span class="visually-hidden">Link code: {spellCode(props.linking.code)}</span>
        </p>
        <Show
          when={!props.linking.approved}
          fallback={
            <p class="field-help" role="status">
              {DEVICE_TEXTS.approved}
            </p>
          }
        >
          <p>{DEVICE_TEXTS.waiting(props.chat.state.name, props.linking.code)}</p>
          {/* A timer is not read out each second; its words are there when the reader looks. */}
          <p class="field-help" role="timer">
            {left() > 0 ? DEVICE_TEXTS.timeLeft(formatTimeLeft(left())) : DEVICE_TEXTS.runOut}
          </p>
          <button type="button" onClick={() => props.chat.cancelJoin()}>
            Cancel
          </button>
        </Show>
      </section>
    </main>
  )
}
