// The header menu's "Link a device": the code a new device shows, typed here, approves it; below,
// this person's devices, each other one but the first with an Unlink. Outcomes are said in words
// from one live region. The engine checks the code and signs; no protocol here.
import { createEffect, createSignal, on, Show } from 'solid-js'
import type { DeviceView } from '../../../shared/client/session.ts'
import type { Chat } from '../lib/chat.ts'
import { DEVICE_TEXTS } from '../lib/copy.ts'
import { deviceFailureText } from '../lib/devices.ts'
import { createModal } from '../lib/modal.ts'
import { DeviceList } from './device-list.tsx'

export function LinkDeviceDialog(props: { chat: Chat; open: boolean; onDone: () => void }) {
  const [code, setCode] = createSignal('')
  const [busy, setBusy] = createSignal(false)
  const [outcome, setOutcome] = createSignal<{ ok: boolean; text: string }>()
  const [devices, setDevices] = createSignal<DeviceView[]>()
  let dialog: HTMLDialogElement | undefined
  let said: HTMLParagraphElement | undefined
  createModal(
    () => dialog,
    () => props.open,
  )

  const failed = (error: unknown) => setOutcome({ ok: false, text: deviceFailureText(error) })
  createEffect(
    on(
      () => props.open,
      (open) => {
        if (!open) return
        setCode('')
        setOutcome(undefined)
        setDevices(undefined)
        props.chat.devices().then(setDevices, failed)
      },
    ),
  )

  const approve = async (event: SubmitEvent) => {
    event.preventDefault()
    setBusy(true)
    setOutcome(undefined)
    try {
      const after = await props.chat.approveDevice(code())
      setDevices(after)
      setCode('')
      setOutcome({ ok: true, text: DEVICE_TEXTS.linked(after.length) })
    } catch (error) {
      failed(error)
    } finally {
      setBusy(false)
    }
  }

  const unlink = async (device: DeviceView) => {
    try {
      setDevices(await props.chat.unlinkDevice(device.identityKey))
      setOutcome({ ok: true, text: DEVICE_TEXTS.unlinked(device.fingerprint) })
    } catch (error) {
      failed(error)
    }
    // Its row and buttons are gone: focus goes to what says so.
    said?.focus()
  }

  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="link-device-title"
      onClose={() => props.onDone()}
    >
      <h2 id="link-device-title">Link a device</h2>
      <p>
        On the new device, join as {props.chat.state.name} with “Link to an identity I already use”
        checked (or start the terminal client with <code class="nowrap">--link-device</code>), then
        type the code it shows.
      </p>
      <form onSubmit={(event) => void approve(event)}>
        <label for="link-code-input">Link code</label>
        <div class="code-row">
          <input
            id="link-code-input"
            autocomplete="off"
            autocapitalize="characters"
            spellcheck={false}
            maxlength={40}
            placeholder="7KQ2-M9XD-4HRT"
            value={code()}
            onInput={(event) => setCode(event.currentTarget.value)}
            aria-invalid={outcome()?.ok === false}
            aria-describedby="link-device-outcome"
          />
          <button type="submit" class="primary" disabled={busy() || code().trim() === ''}>
            {busy() ? 'Approving…' : 'Approve'}
          </button>
        </div>
      </form>
      <p
        ref={said}
        id="link-device-outcome"
        class="outcome"
        classList={{ 'form-error': outcome()?.ok === false }}
        role="status"
        tabindex="-1"
      >
        {outcome()?.text}
      </p>
      <h3>Your devices</h3>
      <Show when={devices()} fallback={<p class="field-help">Asking the server…</p>}>
        {(list) => <DeviceList name={props.chat.state.name} devices={list()} onUnlink={unlink} />}
      </Show>
      <div class="actions">
        <button type="button" onClick={() => props.onDone()}>
          Close
        </button>
      </div>
    </dialog>
  )
}
