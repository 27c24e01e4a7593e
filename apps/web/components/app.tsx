// The page's top level: the join form until the room is entered (or, while this browser waits to
// be linked, its code), then the room. Reads the chat store; knows nothing of the engine's workings.
import { Match, Switch } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { trackUnreadInTitle } from '../lib/page-title.ts'
import { JoinForm } from './join-form.tsx'
import { LinkWaiting } from './link-waiting.tsx'
import { RoomView } from './room-view.tsx'

export function App(props: { chat: Chat }) {
  trackUnreadInTitle(
    () => props.chat.state.incoming,
    () => (props.chat.state.screen === 'room' ? `${props.chat.state.name} · chatbox` : 'chatbox'),
  )
  return (
    <Switch fallback={<JoinForm chat={props.chat} />}>
      <Match when={props.chat.state.screen === 'room'}>
        <RoomView chat={props.chat} />
      </Match>
      <Match when={props.chat.state.linking}>
        {(linking) => <LinkWaiting chat={props.chat} linking={linking()} />}
      </Match>
    </Switch>
  )
}
