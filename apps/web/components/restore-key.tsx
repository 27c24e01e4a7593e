// The join form's "Restore from a backup": a backup file and its passphrase put a key made on
// another device (either client) in this browser, for the name saved in it. No protocol here.
import { createSignal, Show } from 'solid-js'
import { restoreIdentity } from '../lib/identity-file.ts'

export function RestoreKey(props: { name: string; onRestored: (name: string) => void }) {
  const [passphrase, setPassphrase] = createSignal('')
  const [busy, setBusy] = createSignal(false)
  const [outcome, setOutcome] = createSignal<{ ok: boolean; text: string }>()
  let fileInput: HTMLInputElement | undefined

  const restore = async () => {
    const file = fileInput?.files?.[0]
    if (!file) return setOutcome({ ok: false, text: 'Choose the backup file first.' })
    setBusy(true)
    setOutcome(undefined)
    try {
      const name = await restoreIdentity(file, passphrase(), props.name)
      props.onRestored(name)
      setOutcome({ ok: true, text: `Restored the key for ${name}. Join to use it.` })
    } catch (error) {
      setOutcome({ ok: false, text: `Not restored: ${(error as Error).message}` })
    } finally {
      setBusy(false)
    }
  }

  return (
    <details class="restore-key">
      <summary>Restore from a backup</summary>
      <label for="restore-file">Backup file</label>
      <input ref={fileInput} id="restore-file" type="file" accept=".json,application/json" />
      <label for="restore-passphrase">Backup passphrase</label>
      <input
        id="restore-passphrase"
        type="password"
        autocomplete="off"
        value={passphrase()}
        onInput={(event) => setPassphrase(event.currentTarget.value)}
      />
      <button type="button" disabled={busy()} onClick={() => void restore()}>
        {busy() ? 'Opening…' : 'Restore'}
      </button>
      <Show when={outcome()}>
        {(said) => (
          <p class={said().ok ? 'field-help' : 'form-error'} role={said().ok ? 'status' : 'alert'}>
            {said().text}
          </p>
        )}
      </Show>
    </details>
  )
}
