// The room header's say over desktop notifications: a button that asks the browser (only when
// clicked), then a switch the browser remembers. Reads the notifications store; no chat here.
import { Match, Switch } from 'solid-js'
import type { Notifications } from '../lib/notifications.ts'

export function NotificationToggle(props: { notifications: Notifications }) {
  const state = () => props.notifications.state
  return (
    <Switch>
      <Match when={state().access === 'default'}>
        <button
          type="button"
          class="quiet small notify"
          title="Show a desktop notification for messages that arrive while this tab is hidden"
          onClick={() => void props.notifications.ask()}
        >
          Enable notifications
        </button>
      </Match>
      <Match when={state().access === 'granted'}>
        <label class="notify">
          <input
            type="checkbox"
            checked={state().enabled}
            onChange={(event) => props.notifications.setEnabled(event.currentTarget.checked)}
          />
          Notifications
        </label>
      </Match>
      <Match when={state().access === 'denied'}>
        <p class="notify" title="Allow them in the browser's site settings to turn them on">
          Notifications blocked
        </p>
      </Match>
    </Switch>
  )
}
