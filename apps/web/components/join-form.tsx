// The join form: a name checked as it is typed, the room secret when the server asks for it, the
// choice to link this browser to a name used elsewhere, and the server's refusals. Reads the chat
// store and calls `join`; no protocol here.
import { createEffect, createSignal, onMount, Show } from 'solid-js'
import { checkName } from '../../../shared/protocol/names.ts'
import type { Chat } from '../lib/chat.ts'
import { pageInvite } from '../lib/invite.ts'
import { RestoreKey } from './restore-key.tsx'

export function JoinForm(props: { chat: Chat }) {
  const [name, setName] = createSignal(props.chat.state.name || (pageInvite?.name ?? ''))
  const [secret, setSecret] = createSignal('')
  const [link, setLink] = createSignal(props.chat.state.linkDevice)
  const [submitted, setSubmitted] = createSignal(false)
  let nameInput: HTMLInputElement | undefined
  let secretInput: HTMLInputElement | undefined
  let submitButton: HTMLButtonElement | undefined

  // Elements made after load never see `autofocus`; focus by hand, and move to the secret
  // field the moment the server asks for it. Back from a link code (run out, cancelled), asking
  // for a new one is one key away.
  onMount(() => (link() ? submitButton : nameInput)?.focus())
  createEffect(() => {
    if (props.chat.state.askSecret) secretInput?.focus()
  })

  const nameProblem = () => {
    const value = name()
    if (value === '') return submitted() ? 'Choose a name to join with.' : undefined
    const check = checkName(value)
    return check.ok ? undefined : sentence(check.message ?? 'That name is not allowed.')
  }

  const submit = (event: SubmitEvent) => {
    event.preventDefault()
    setSubmitted(true)
    if (nameProblem() !== undefined || name() === '') return
    void props.chat.join(name(), props.chat.state.askSecret ? secret() : undefined, link())
  }

  return (
    <main class="join">
      <h1>chatbox</h1>
      <p class="lede">
        An end-to-end encrypted room. Your key is made and kept in this browser; the server only
        passes on what it cannot read.
      </p>
      <form class="join-form" onSubmit={submit} novalidate>
        <label for="join-name">Your name</label>
        <input
          ref={nameInput}
          id="join-name"
          name="name"
          autocomplete="username"
          autocapitalize="off"
          spellcheck={false}
          maxlength={64}
          required
          value={name()}
          onInput={(event) => setName(event.currentTarget.value)}
          aria-invalid={nameProblem() !== undefined}
          aria-describedby="join-name-help"
        />
        <p id="join-name-help" class="field-help" classList={{ invalid: !!nameProblem() }}>
          {nameProblem() ?? '3–24 letters, digits, _ or -, starting with a letter.'}
        </p>
        <Show when={pageInvite}>
          {(invite) => (
            <p class="field-help">
              You have an admin’s invite{invite().name ? ` for “${invite().name}”` : ''}: joining
              binds the name to this browser’s key.
            </p>
          )}
        </Show>
        <Show when={props.chat.state.askSecret}>
          <label for="join-secret">Room secret</label>
          <input
            ref={secretInput}
            id="join-secret"
            name="secret"
            type="password"
            autocomplete="current-password"
            required
            value={secret()}
            onInput={(event) => setSecret(event.currentTarget.value)}
            aria-describedby="join-secret-help"
          />
          <p id="join-secret-help" class="field-help">
            Whoever runs this server gave the room a secret; ask them for it.
          </p>
        </Show>
        <label class="link-option">
          <input
            type="checkbox"
            checked={link()}
            onChange={(event) => setLink(event.currentTarget.checked)}
            aria-describedby="join-link-help"
          />
          Link to an identity I already use
        </label>
        <p id="join-link-help" class="field-help">
          A device where you already use that name approves this browser by a code.
        </p>
        <Show when={props.chat.state.joinError}>
          {(message) => (
            <p class="form-error" role="alert">
              {message()}
            </p>
          )}
        </Show>
        <button
          ref={submitButton}
          type="submit"
          class="primary"
          disabled={props.chat.state.joining}
        >
          {props.chat.state.joining ? 'Joining…' : link() ? 'Get a link code' : 'Join the room'}
        </button>
      </form>
      <RestoreKey name={name()} onRestored={setName} />
    </main>
  )
}

function sentence(text: string): string {
  const trimmed = text.charAt(0).toUpperCase() + text.slice(1)
  return trimmed.endsWith('.') ? trimmed : `${trimmed}.`
}
