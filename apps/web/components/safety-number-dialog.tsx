// The safety number shared with one member, to compare out of band, and the button that marks
// them verified. Reads what the engine computes; no crypto here.
import { createResource, For, Show } from 'solid-js'
import { safetyNumberRows } from '../../../shared/crypto/fingerprint.ts'
import type { Chat } from '../lib/chat.ts'
import { createModal } from '../lib/modal.ts'

export function SafetyNumberDialog(props: {
  chat: Chat
  name: string | undefined
  onDone: () => void
}) {
  let dialog: HTMLDialogElement | undefined
  const [digits] = createResource(
    () => props.name,
    (name) => props.chat.safetyNumber(name),
  )
  const verified = () =>
    props.chat.state.members.find((member) => member.name === props.name)?.verified ?? false

  createModal(
    () => dialog,
    () => props.name !== undefined,
  )

  const markVerified = async () => {
    if (props.name !== undefined) await props.chat.markVerified(props.name)
    props.onDone()
  }

  return (
    <dialog ref={dialog} class="dialog" aria-labelledby="safety-title" onClose={props.onDone}>
      <Show when={props.name}>
        {(name) => (
          <>
            <h2 id="safety-title">Safety number with {name()}</h2>
            <p>
              Compare these 60 digits with {name()} in person or on a call. If they match, nobody
              sits between your two keys.
            </p>
            <Show
              when={digits()}
              fallback={<p>{digits.error ? 'No key is known for them yet.' : 'Computing…'}</p>}
            >
              {(number) => (
                // The same 3 rows of 4 groups as every client shows, whatever the screen's width.
                <div class="safety-number">
                  <For each={safetyNumberRows(number())}>
                    {(row) => (
                      <p class="safety-row">
                        <For each={row}>{(group) => <span>{group}</span>}</For>
                      </p>
                    )}
                  </For>
                </div>
              )}
            </Show>
            <div class="actions">
              <Show
                when={!verified()}
                fallback={<p class="tag verified">✓ You verified {name()}</p>}
              >
                <button
                  type="button"
                  class="primary"
                  disabled={!digits()}
                  onClick={() => void markVerified()}
                >
                  They match: mark as verified
                </button>
              </Show>
              <button type="button" onClick={props.onDone}>
                Close
              </button>
            </div>
          </>
        )}
      </Show>
    </dialog>
  )
}
