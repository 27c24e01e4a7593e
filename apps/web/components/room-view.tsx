// The room: header with status and room code, key-change banners, the timeline, the member list
// and the composer, and a drop zone for .txt files. Reads the chat store; no protocol here.
import { createSignal, Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { STATUS_TEXTS } from '../lib/copy.ts'
import { BackupKey } from './backup-key.tsx'
import { ClearHistory } from './clear-history.tsx'
import { Composer } from './composer.tsx'
import { KeyChangeBanner } from './key-change-banner.tsx'
import { LeaveDialog } from './leave-dialog.tsx'
import { MemberList } from './member-list.tsx'
import { NotificationToggle } from './notification-toggle.tsx'
import { OversizeDialog } from './oversize-dialog.tsx'
import { Timeline } from './timeline.tsx'

export function RoomView(props: { chat: Chat }) {
  const [dragging, setDragging] = createSignal(false)
  const [askingToLeave, setAskingToLeave] = createSignal(false)
  const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false

  const onDragOver = (event: DragEvent) => {
    if (!carriesFiles(event)) return
    event.preventDefault()
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy'
    setDragging(true)
  }
  const onDragLeave = (event: DragEvent) => {
    // Leaving for a child element is not leaving the room.
    const next = event.relatedTarget
    if (!(next instanceof Node) || !(event.currentTarget as Node).contains(next)) {
      setDragging(false)
    }
  }
  const onDrop = (event: DragEvent) => {
    if (!carriesFiles(event)) return
    event.preventDefault()
    setDragging(false)
    const file = event.dataTransfer?.files[0]
    if (file) void props.chat.sendFile(file)
  }

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: dropping a file anywhere is a shortcut; the keyboard way is the "Send a file…" button
    <div
      class="room"
      classList={{ dragging: dragging() }}
      onDragOver={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      <header class="room-header">
        <h1>chatbox</h1>
        <p class="status" data-status={props.chat.state.status} role="status">
          <span class="status-dot" aria-hidden="true" />
          {STATUS_TEXTS[props.chat.state.status]}
          <Show when={props.chat.state.status === 'reconnecting' && props.chat.state.statusDetail}>
            {(detail) => <span class="status-detail"> ({detail()})</span>}
          </Show>
        </p>
        <Show when={props.chat.state.roomCode}>
          {(code) => (
            <p
              class="room-code"
              title="Everyone in the group sees this same code: read it aloud to check you share one group."
            >
              Room code <code>{code()}</code>
            </p>
          )}
        </Show>
        <ClearHistory chat={props.chat} />
        <BackupKey chat={props.chat} />
        <NotificationToggle notifications={props.chat.notifications} />
        <button type="button" class="quiet leave" onClick={() => setAskingToLeave(true)}>
          Leave
        </button>
      </header>
      <Show when={props.chat.state.displaced}>
        <div class="banner warning" role="alert">
          <p>
            You joined as <strong>{props.chat.state.name}</strong> from another tab or device, so
            this page stopped.
          </p>
          <button type="button" onClick={() => void props.chat.rejoin()}>
            Rejoin here
          </button>
        </div>
      </Show>
      <KeyChangeBanner chat={props.chat} />
      <div class="room-body">
        <Timeline chat={props.chat} />
        <MemberList chat={props.chat} />
      </div>
      <Composer chat={props.chat} />
      <OversizeDialog chat={props.chat} />
      <LeaveDialog
        open={askingToLeave()}
        onStay={() => setAskingToLeave(false)}
        onLeave={() => {
          setAskingToLeave(false)
          void props.chat.leave()
        }}
      />
      <Show when={dragging()}>
        <div class="drop-hint" aria-hidden="true">
          Drop a .txt file to send it
        </div>
      </Show>
    </div>
  )
}
