// The room's timeline: messages, files and notices in order, own messages set apart; each entry
// reads as sender, time, then text (announcer.tsx says new ones aloud). Everything peers sent is
// drawn as text, never as markup.
import { createEffect, For, Match, on, onCleanup, onMount, Show, Switch } from 'solid-js'
import { describeSize, sanitizeFileName } from '../../../shared/client/files.ts'
import { visibleText } from '../../../shared/client/visible-text.ts'
import type { Chat } from '../lib/chat.ts'
import { saveTextFile } from '../lib/download.ts'
import { formatInstant, formatTime, previewText } from '../lib/format.ts'
import type { FileEntry, MessageEntry, NoticeEntry } from '../lib/timeline-reducer.ts'
import { DeliveryMark } from './delivery-mark.tsx'
import { EarlierButton } from './earlier-button.tsx'
import { MessageText } from './message-text.tsx'

/** Within this many pixels of the bottom, the list follows new entries. */
const STICK_DISTANCE = 64

export function Timeline(props: { chat: Chat }) {
  let scroller: HTMLDivElement | undefined
  let following = true

  const onScroll = () => {
    if (!scroller) return
    following = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < STICK_DISTANCE
  }

  // A bar below the list (a problem, a hint) takes its room from the list: a reader at the
  // bottom stays there, rather than losing the last entry behind the bar.
  onMount(() => {
    const observer = new ResizeObserver(() => {
      if (scroller && following) scroller.scrollTop = scroller.scrollHeight
    })
    if (scroller) observer.observe(scroller)
    onCleanup(() => observer.disconnect())
  })

  // After each new entry: follow it if the reader was at the bottom, or if it is their own.
  createEffect(
    on(
      () => props.chat.state.entries.length,
      (length) => {
        const last = props.chat.state.entries[length - 1]
        const own = last !== undefined && last.kind !== 'notice' && last.own
        if (scroller && (following || own)) scroller.scrollTop = scroller.scrollHeight
      },
    ),
  )

  return (
    <section class="timeline-pane" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading" class="visually-hidden">
        Messages
      </h2>
      <div class="timeline-scroll" ref={scroller} onScroll={onScroll}>
        <EarlierButton chat={props.chat} />
        <ol class="timeline" aria-labelledby="timeline-heading">
          <For each={props.chat.state.entries}>
            {(entry) => (
              <Switch>
                <Match when={entry.kind === 'message' && entry}>
                  {(message) => <MessageItem entry={message()} chat={props.chat} />}
                </Match>
                <Match when={entry.kind === 'file' && entry}>
                  {(file) => <FileItem entry={file()} chat={props.chat} />}
                </Match>
                <Match when={entry.kind === 'notice' && entry}>
                  {(notice) => <NoticeItem entry={notice()} />}
                </Match>
              </Switch>
            )}
          </For>
        </ol>
      </div>
    </section>
  )
}

function Meta(props: { entry: MessageEntry | FileEntry }) {
  return (
    <p class="meta">
      <span class="from">{props.entry.own ? 'You' : props.entry.from}</span>
      {/* Read aloud as "carol, at 14:05: hello" rather than "carol14:05hello". */}
      <span class="visually-hidden">, at </span>
      <time datetime={formatInstant(props.entry.at)} title={formatInstant(props.entry.at)}>
        {formatTime(props.entry.at)}
      </time>
      <span class="visually-hidden">:</span>
    </p>
  )
}

function ForgedSender(props: { entry: MessageEntry | FileEntry }) {
  return (
    <Show when={props.entry.claimedBy}>
      {(claimed) => (
        <p class="forged" role="note">
          The server said this came from {claimed()}, but it was written by {props.entry.from}.
        </p>
      )}
    </Show>
  )
}

function MessageItem(props: { entry: MessageEntry; chat: Chat }) {
  return (
    <li class="entry message" classList={{ own: props.entry.own }}>
      <Meta entry={props.entry} />
      <p class="text">
        <MessageText text={props.entry.text} />
      </p>
      <DeliveryMark chat={props.chat} id={props.entry.key} />
      <ForgedSender entry={props.entry} />
    </li>
  )
}

function FileItem(props: { entry: FileEntry; chat: Chat }) {
  const preview = () => previewText(props.entry.bytes)
  const safeName = () => sanitizeFileName(props.entry.name)
  return (
    <li class="entry file" classList={{ own: props.entry.own }}>
      <Meta entry={props.entry} />
      <div class="file-card">
        <p class="file-head">
          <span class="file-name">{visibleText(props.entry.name)}</span>
          <span class="file-size">{describeSize(props.entry.size)}</span>
        </p>
        <Show when={props.entry.truncated}>
          <p class="file-truncated">
            Truncated: only the first {describeSize(props.entry.bytes.length)} were sent.
          </p>
        </Show>
        <pre class="file-preview">
          {preview().text}
          {preview().more ? '\n…' : ''}
        </pre>
        <button
          type="button"
          class="download"
          onClick={() => saveTextFile(safeName(), props.entry.bytes)}
        >
          Download as {safeName()}
        </button>
      </div>
      <DeliveryMark chat={props.chat} id={props.entry.key} />
      <ForgedSender entry={props.entry} />
    </li>
  )
}

function NoticeItem(props: { entry: NoticeEntry }) {
  return (
    <li
      class="entry notice"
      classList={{
        warning: props.entry.tone === 'warning',
        separator: props.entry.tone === 'separator',
      }}
    >
      <time datetime={formatInstant(props.entry.at)}>{formatTime(props.entry.at)}</time>
      <span>{props.entry.text}</span>
    </li>
  )
}
