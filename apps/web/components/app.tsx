// The page's top level: the join form until the room is entered, then the room. Reads the chat
// store; knows nothing of the engine's workings.
import { Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { trackUnreadInTitle } from '../lib/page-title.ts'
import { JoinForm } from './join-form.tsx'
import { RoomView } from './room-view.tsx'

export function App(props: { chat: Chat }) {
  trackUnreadInTitle(
    () => props.chat.state.incoming,
    () => (props.chat.state.screen === 'room' ? `${props.chat.state.name} · chatbox` : 'chatbox'),
  )
  return (
    <Show when={props.chat.state.screen === 'room'} fallback={<JoinForm chat={props.chat} />}>
      <RoomView chat={props.chat} />
    </Show>
  )
}
