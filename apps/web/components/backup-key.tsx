// The header menu's "Back up my key": asks for a passphrase twice, then downloads this name's key
// sealed with it (the terminal client reads the same file). No protocol here.
import { createSignal, Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { backUpIdentity } from '../lib/identity-file.ts'
import { createModal } from '../lib/modal.ts'

export function BackupKeyDialog(props: { chat: Chat; open: boolean; onDone: () => void }) {
  const [first, setFirst] = createSignal('')
  const [again, setAgain] = createSignal('')
  const [busy, setBusy] = createSignal(false)
  const [problem, setProblem] = createSignal<string>()
  let dialog: HTMLDialogElement | undefined
  createModal(
    () => dialog,
    () => props.open,
  )

  const download = async (event: SubmitEvent) => {
    event.preventDefault()
    if (first() === '') return setProblem('Choose a passphrase.')
    if (first() !== again()) return setProblem('The two passphrases differ.')
    setBusy(true)
    setProblem(undefined)
    try {
      await backUpIdentity(props.chat.state.name, first())
      setFirst('')
      setAgain('')
      props.onDone()
    } catch (error) {
      setProblem((error as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="backup-key-title"
      onClose={() => props.onDone()}
    >
      <h2 id="backup-key-title">Back up my key</h2>
      <p>
        Whoever has this file and its passphrase can be {props.chat.state.name} here. Without the
        passphrase it cannot be opened, and nobody can recover a forgotten one.
      </p>
      <form onSubmit={(event) => void download(event)}>
        <label for="backup-passphrase">Passphrase</label>
        <input
          id="backup-passphrase"
          type="password"
          autocomplete="new-password"
          value={first()}
          onInput={(event) => setFirst(event.currentTarget.value)}
        />
        <label for="backup-passphrase-again">The same passphrase again</label>
        <input
          id="backup-passphrase-again"
          type="password"
          autocomplete="new-password"
          value={again()}
          onInput={(event) => setAgain(event.currentTarget.value)}
        />
        <Show when={problem()}>
          {(text) => (
            <p class="form-error" role="alert">
              {text()}
            </p>
          )}
        </Show>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy()}>
            {busy() ? 'Sealing…' : 'Download'}
          </button>
          <button type="button" onClick={() => props.onDone()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  )
}
