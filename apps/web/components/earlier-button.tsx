// Above the timeline while kept messages from earlier visits are still off the list: a button that
// puts the next page of them on it. Reads the chat store; the paging is lib/earlier.ts's.
import { Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { HISTORY_TEXTS } from '../lib/copy.ts'

export function EarlierButton(props: { chat: Chat }) {
  return (
    <Show when={props.chat.state.earlierHidden > 0}>
      <button type="button" class="quiet small earlier-more" onClick={props.chat.showEarlier}>
        {HISTORY_TEXTS.showEarlier(props.chat.state.earlierHidden)}
      </button>
    </Show>
  )
}
