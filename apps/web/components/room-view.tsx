// The room: a skip link to the message box, the header (title, status, room code, menu, Leave),
// then the main landmark: banners, the timeline, the member list and the composer, and a drop
// zone for .txt files. Reads the chat store; no protocol here.
import { createSignal, Show } from 'solid-js'
import type { Chat } from '../lib/chat.ts'
import { STATUS_TEXTS } from '../lib/copy.ts'
import { COMPOSER_ID } from '../lib/modal.ts'
import { Announcer } from './announcer.tsx'
import { BackupKeyDialog } from './backup-key.tsx'
import { ClearHistoryDialog } from './clear-history.tsx'
import { Composer } from './composer.tsx'
import { HeaderMenu } from './header-menu.tsx'
import { KeyChangeBanner } from './key-change-banner.tsx'
import { LeaveDialog } from './leave-dialog.tsx'
import { LinkDeviceDialog } from './link-device-dialog.tsx'
import { MemberList } from './member-list.tsx'
import { OversizeDialog } from './oversize-dialog.tsx'
import { Timeline } from './timeline.tsx'

export function RoomView(props: { chat: Chat }) {
  const [dragging, setDragging] = createSignal(false)
  const [askingToLeave, setAskingToLeave] = createSignal(false)
  const [clearingHistory, setClearingHistory] = createSignal(false)
  const [backingUp, setBackingUp] = createSignal(false)
  const [linkingDevice, setLinkingDevice] = createSignal(false)
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
      <a
        class="skip-link"
        href={`#${COMPOSER_ID}`}
        onClick={(event) => {
          // Focus, not a fragment: the address keeps what the page was opened with.
          event.preventDefault()
          document.getElementById(COMPOSER_ID)?.focus()
        }}
      >
        Skip to the message box
      </a>
      <header class="room-header">
        <h1>chatbox</h1>
        {/* A live region from the start, so each change of the connection is read out. */}
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
        <HeaderMenu
          notifications={props.chat.notifications}
          onClearHistory={() => setClearingHistory(true)}
          onBackUpKey={() => setBackingUp(true)}
          onLinkDevice={() => setLinkingDevice(true)}
        />
        <button type="button" class="quiet leave" onClick={() => setAskingToLeave(true)}>
          Leave
        </button>
      </header>
      <main class="room-main">
        <Show when={props.chat.state.displaced}>
          <div class="banner warning" role="alert">
            <p>
              You joined as <strong>{props.chat.state.name}</strong> in another tab with this same
              key, so this page stopped.
            </p>
            <button type="button" onClick={() => void props.chat.rejoin()}>
              Rejoin here
            </button>
          </div>
        </Show>
        <Show when={props.chat.state.unlinked}>
          <div class="banner danger" role="alert">
            <p>
              Another of your devices unlinked this one: it can no longer join as{' '}
              <strong>{props.chat.state.name}</strong>, nor read what is sent from now on.
            </p>
            <button type="button" onClick={() => void props.chat.forgetDevice()}>
              Forget this browser’s key for {props.chat.state.name}
            </button>
          </div>
        </Show>
        <KeyChangeBanner chat={props.chat} />
        <div class="room-body">
          <Timeline chat={props.chat} />
          <MemberList chat={props.chat} />
        </div>
        <Composer chat={props.chat} />
        <Announcer chat={props.chat} />
      </main>
      <OversizeDialog chat={props.chat} />
      <ClearHistoryDialog
        chat={props.chat}
        open={clearingHistory()}
        onDone={() => setClearingHistory(false)}
      />
      <BackupKeyDialog chat={props.chat} open={backingUp()} onDone={() => setBackingUp(false)} />
      <LinkDeviceDialog
        chat={props.chat}
        open={linkingDevice()}
        onDone={() => setLinkingDevice(false)}
      />
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
