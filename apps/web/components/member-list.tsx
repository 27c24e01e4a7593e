// Who is in the room: each person once, with presence, key fingerprint, verified marks, the way
// into their safety number, and their devices when they have several. Reads the chat store; no
// trust logic here.
import { createSignal, For, Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { orderDevices } from '../lib/devices.ts'
import { Fingerprint } from './fingerprint.tsx'
import { SafetyNumberDialog } from './safety-number-dialog.tsx'

export function MemberList(props: { chat: Chat }) {
  const [comparing, setComparing] = createSignal<string>()
  // Open on screens wide enough to show it beside the timeline; a tap away on a phone.
  const wide = matchMedia('(min-width: 48rem)').matches

  return (
    <details class="members-pane" open={wide}>
      <summary>
        Members <span class="count">({props.chat.state.members.length})</span>
      </summary>
      <ul class="members">
        <For each={props.chat.state.members}>
          {(member) => {
            const self = () => member.name === props.chat.state.name
            return (
              <li class="member" classList={{ offline: !member.online }}>
                <p class="member-line">
                  <span
                    class="presence"
                    classList={{ online: member.online }}
                    title={member.online ? 'online' : 'away'}
                    aria-hidden="true"
                  />
                  <span class="member-name">{member.name}</span>
                  <Show when={self()}>
                    <span class="tag">you</span>
                  </Show>
                  <Show when={!self() && member.verified}>
                    <span class="tag verified">✓ verified</span>
                  </Show>
                  <Show when={member.keyChanged}>
                    <span class="tag danger">key changed</span>
                  </Show>
                  <Show when={!member.inGroup}>
                    <span class="tag">joining</span>
                  </Show>
                  <Show when={!member.online}>
                    <span class="visually-hidden">(away)</span>
                  </Show>
                </p>
                <Fingerprint value={member.fingerprint} label="Key fingerprint" />
                <Show when={member.devices.length > 1}>
                  <ul class="member-devices" aria-label={`Devices of ${member.name}`}>
                    <For each={orderDevices(member.devices, props.chat.state.deviceKey)}>
                      {(device) => (
                        <li>
                          <p class="member-line">
                            <span
                              class="presence"
                              classList={{ online: device.online }}
                              aria-hidden="true"
                            />
                            {device.online ? 'online' : 'away'}
                            <Show when={device.identityKey === props.chat.state.deviceKey}>
                              <span class="tag">this device</span>
                            </Show>
                          </p>
                          <Fingerprint value={device.fingerprint} label="Device fingerprint" />
                        </li>
                      )}
                    </For>
                  </ul>
                </Show>
                <Show when={!self() && !member.keyChanged}>
                  <button
                    type="button"
                    class="quiet small"
                    onClick={() => setComparing(member.name)}
                  >
                    {/* The visible words start the button's name, as voice control needs. */}
                    Compare safety numbers
                    <span class="visually-hidden"> with {member.name}</span>
                  </button>
                </Show>
              </li>
            )
          }}
        </For>
      </ul>
      {/* A large room lists only who was seen so far: the rest is asked for, not sent to all. */}
      <Show when={!props.chat.state.allMembersListed}>
        <p class="field-help">
          {props.chat.state.online} online; in a room this large the list may not show everyone.
        </p>
        <button type="button" class="quiet small" onClick={() => void props.chat.loadAllMembers()}>
          List everyone online
        </button>
      </Show>
      <SafetyNumberDialog
        chat={props.chat}
        name={comparing()}
        onDone={() => setComparing(undefined)}
      />
    </details>
  )
}
