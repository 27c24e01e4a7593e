// The mark under an own message the room's log has not shown yet: "Sending…" while it is on its
// way (connected or not), or why it failed, with a Retry. Sent messages carry no mark at all.
import { Match, Show, Switch } from 'solid-js'
import { visibleText } from '../../../shared/client/visible-text.ts'
import type { Chat } from '../lib/chat.ts'

export function DeliveryMark(props: { chat: Chat; id: string }) {
  const delivery = () => props.chat.state.deliveries[props.id]
  return (
    <Show when={delivery()}>
      {(shown) => (
        <Switch>
          <Match when={shown().state === 'pending'}>
            <p class="delivery pending">Sending…</p>
          </Match>
          <Match when={shown().state === 'failed'}>
            <p class="delivery failed" role="alert">
              <span>
                Not sent
                {/* The reason may quote the server: shown as text, controls made visible. */}
                {shown().reason ? ` — ${visibleText(shown().reason ?? '')}` : ''}
              </span>
              <button type="button" class="small" onClick={() => void props.chat.retry(props.id)}>
                Retry
              </button>
            </p>
          </Match>
        </Switch>
      )}
    </Show>
  )
}
