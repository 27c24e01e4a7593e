// The room's timeline: messages, files and notices in order, own messages set apart, announced
// to screen readers as they arrive. Everything peers sent is drawn as text, never as markup.
import { createEffect, For, Match, on, Show, Switch } from 'solid-js'
import { describeSize, sanitizeFileName } from '../../../shared/client/files.ts'
import type { Chat } from '../lib/chat.ts'
import { saveTextFile } from '../lib/download.ts'
import { formatInstant, formatTime, previewText } from '../lib/format.ts'
import type { FileEntry, MessageEntry, NoticeEntry } from '../lib/timeline-reducer.ts'

/** Within this many pixels of the bottom, the list follows new entries. */
const STICK_DISTANCE = 64

export function Timeline(props: { chat: Chat }) {
  let scroller: HTMLDivElement | undefined
  let following = true

  const onScroll = () => {
    if (!scroller) return
    following = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < STICK_DISTANCE
  }

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
        <ol class="timeline" role="log" aria-live="polite" aria-relevant="additions">
          <For each={props.chat.state.entries}>
            {(entry) => (
              <Switch>
                <Match when={entry.kind === 'message' && entry}>
                  {(message) => <MessageItem entry={message()} />}
                </Match>
                <Match when={entry.kind === 'file' && entry}>
                  {(file) => <FileItem entry={file()} />}
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
      <time datetime={formatInstant(props.entry.at)} title={formatInstant(props.entry.at)}>
        {formatTime(props.entry.at)}
      </time>
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

function MessageItem(props: { entry: MessageEntry }) {
  return (
    <li class="entry message" classList={{ own: props.entry.own }}>
      <Meta entry={props.entry} />
      <p class="text">{props.entry.text}</p>
      <ForgedSender entry={props.entry} />
    </li>
  )
}

function FileItem(props: { entry: FileEntry }) {
  const preview = () => previewText(props.entry.bytes)
  const safeName = () => sanitizeFileName(props.entry.name)
  return (
    <li class="entry file" classList={{ own: props.entry.own }}>
      <Meta entry={props.entry} />
      <div class="file-card">
        <p class="file-head">
          <span class="file-name">{props.entry.name}</span>
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
      <ForgedSender entry={props.entry} />
    </li>
  )
}

function NoticeItem(props: { entry: NoticeEntry }) {
  return (
    <li class="entry notice" classList={{ warning: props.entry.tone === 'warning' }}>
      <time datetime={formatInstant(props.entry.at)}>{formatTime(props.entry.at)}</time>
      <span>{props.entry.text}</span>
    </li>
  )
}
