// "Your devices" in the Link a device dialog: each with its fingerprint and when it was linked,
// this one and the first marked, and an Unlink for each other device but the first, asked twice
// (Keep it is focused, so a stray Enter keeps the device). The dialog does the unlinking.
import { createSignal, For, Show } from 'solid-js'
import type { DeviceView } from '../../../shared/client/session.ts'
import { DEVICE_TEXTS } from '../lib/copy.ts'
import { formatDateTime, formatInstant } from '../lib/format.ts'
import { Fingerprint } from './fingerprint.tsx'

export function DeviceList(props: {
  name: string
  devices: readonly DeviceView[]
  onUnlink: (device: DeviceView) => Promise<void>
}) {
  const [confirming, setConfirming] = createSignal<string>()
  const [busy, setBusy] = createSignal(false)
  const unlinkButtons = new Map<string, HTMLButtonElement>()

  const unlink = async (device: DeviceView) => {
    setBusy(true)
    try {
      await props.onUnlink(device)
    } finally {
      setBusy(false)
      setConfirming(undefined)
    }
  }
  const keep = (device: DeviceView) => {
    setConfirming(undefined)
    unlinkButtons.get(device.identityKey)?.focus()
  }

  return (
    <ul class="device-list">
      <For each={props.devices}>
        {(device) => {
          const short = () => device.fingerprint.split(' ').slice(0, 2).join(' ')
          return (
            <li class="device">
              <p class="member-line">
                <span>{device.first ? 'Since' : 'Linked'}</span>
                <time datetime={formatInstant(device.linkedAt)}>
                  {formatDateTime(device.linkedAt)}
                </time>
                <Show when={device.thisDevice}>
                  <span class="tag">this device</span>
                </Show>
                <Show when={device.first}>
                  <span class="tag">first device</span>
                </Show>
              </p>
              <Fingerprint value={device.fingerprint} label="Device fingerprint" />
              <Show when={!device.first && !device.thisDevice}>
                <Show
                  when={confirming() === device.identityKey}
                  fallback={
                    <button
                      ref={(button) => unlinkButtons.set(device.identityKey, button)}
                      type="button"
                      class="quiet small"
                      onClick={() => setConfirming(device.identityKey)}
                    >
                      Unlink
                      <span class="visually-hidden"> the device {short()}</span>
                    </button>
                  }
                >
                  <div class="confirm-unlink">
                    <p>{DEVICE_TEXTS.confirmUnlink(props.name)}</p>
                    <div class="actions">
                      <button
                        type="button"
                        class="danger small"
                        disabled={busy()}
                        onClick={() => void unlink(device)}
                      >
                        Unlink it
                      </button>
                      <button
                        ref={(button) => queueMicrotask(() => button.focus())}
                        type="button"
                        class="small"
                        onClick={() => keep(device)}
                      >
                        Keep it
                      </button>
                    </div>
                  </div>
                </Show>
              </Show>
            </li>
          )
        }}
      </For>
    </ul>
  )
}
