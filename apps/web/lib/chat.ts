// All of the page's dealings with the chat engine: one session at a time, its events folded into
// a Solid store, and the commands the components call. Knows the engine's API and the browser's
// storage; nothing of frames, MLS or crypto, and nothing of the DOM the components draw.
import { batch } from 'solid-js'
import { createStore } from 'solid-js/store'
import * as v from 'valibot'
import type {
  ChatEvent,
  ConnectionStatus,
  FileEvent,
  MessageEvent,
} from '../../../shared/client/events.ts'
import { checkTextFile, describeSize } from '../../../shared/client/files.ts'
import { DamagedStoreError, openIndexedDbStores } from '../../../shared/client/indexeddb-stores.ts'
import { refusalRemedy } from '../../../shared/client/refusals.ts'
import {
  ChatError,
  type ChatSession,
  createChatSession,
  type MemberView,
} from '../../../shared/client/session.ts'
import type { KeyChange } from '../../../shared/client/trust-book.ts'
import { webSocketTransport } from '../../../shared/client/websocket-transport.ts'
import type { ErrorCode, LeaveReason } from '../../../shared/protocol/frames.ts'
import { DEFAULT_MAX_FILE_BYTES } from '../../../shared/protocol/limits.ts'
import { checkName } from '../../../shared/protocol/names.ts'

/** What the list shows of an engine event: the event's own fields, keyed for <For>. */
type EntryOf<E extends MessageEvent | FileEvent, K extends string> = Omit<
  E,
  'type' | 'id' | 'seq'
> & {
  readonly kind: K
  readonly key: string
}

function entryOf<E extends MessageEvent | FileEvent, K extends string>(
  event: E,
  kind: K,
): EntryOf<E, K> {
  const { type: _type, id, seq: _seq, ...shown } = event
  return { ...shown, kind, key: id }
}

export type MessageEntry = EntryOf<MessageEvent, 'message'>
export type FileEntry = EntryOf<FileEvent, 'file'>

export interface NoticeEntry {
  readonly kind: 'notice'
  readonly key: string
  readonly at: number
  readonly tone: 'info' | 'warning'
  readonly text: string
}

export type Entry = MessageEntry | FileEntry | NoticeEntry

/** Read-only to components: Solid's store proxy refuses writes from outside this module. */
export interface ChatState {
  screen: 'join' | 'room'
  /** A join is under way: the form waits. */
  joining: boolean
  /** The name last typed or joined with. */
  name: string
  /** The server asked for the room secret. */
  askSecret: boolean
  joinError: string | undefined
  status: ConnectionStatus
  statusDetail: string | undefined
  entries: Entry[]
  members: MemberView[]
  roomCode: string | undefined
  keyChanges: KeyChange[]
  /** The last command that failed, said for the user. */
  problem: string | undefined
  /** A file over the limit, waiting for "send the head" or "cancel". */
  oversize: { readonly name: string; readonly size: number } | undefined
  maxFileBytes: number
  /** Messages and files from others since the page opened, for the unread count. */
  incoming: number
  /** Set when this page stopped because the same name joined from elsewhere. */
  displaced: boolean
}

export interface Chat {
  readonly state: ChatState
  join(name: string, secret?: string): Promise<void>
  /** Joins again with the name and secret last used, after this page was displaced. */
  rejoin(): Promise<void>
  sendText(text: string): Promise<boolean>
  sendFile(file: File): Promise<void>
  /** Answers the oversize question: send the truncated head, or drop the file. */
  resolveOversize(send: boolean): Promise<void>
  safetyNumber(name: string): Promise<string>
  markVerified(name: string): Promise<void>
  acceptKey(name: string): Promise<void>
  dismissProblem(): void
  /** Leaves the room for good: this name's group state is dropped, identity kept. */
  leave(): Promise<void>
}

/** What the server tells the page about itself before joining. */
const ClientConfigSchema = v.object({
  maxFileBytes: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
})

/** Survives a reload of this tab, and only this tab: the cue to rejoin without asking. */
const JOINED_KEY = 'chatbox:joined'
/** The name to suggest next time, in any tab. */
const LAST_NAME_KEY = 'chatbox:last-name'
/** A file this big is refused before reading it: the page would stall for nothing. */
const MAX_READ_BYTES = 64 * 1024 * 1024

const JoinedSchema = v.object({ name: v.string(), secret: v.optional(v.string()) })

const REFUSALS: Readonly<Partial<Record<ErrorCode, (name: string) => string>>> = {
  name_taken: (name) =>
    `"${name}" is taken: it is bound to another person's key. Choose another name.`,
  name_invalid: () =>
    'That name is not allowed: 3–24 letters, digits, _ or -, starting with a letter.',
  name_reserved: (name) => `"${name}" is reserved. Choose another name.`,
  auth_failed: () => 'The server could not verify this browser’s key.',
  auth_timeout: () => 'Joining took too long. Try again.',
}

const LEAVE_REASONS: Readonly<Record<LeaveReason, string>> = {
  quit: 'left',
  disconnect: 'disconnected',
  timeout: 'timed out',
  dropped: 'was dropped by the server',
  replaced: 'left (joined again under another spelling)',
  shutdown: 'left (the server is shutting down)',
}

export function createChat(): Chat {
  const [state, setState] = createStore<ChatState>({
    screen: 'join',
    joining: false,
    name: readLastName(),
    askSecret: false,
    joinError: undefined,
    status: 'closed',
    statusDetail: undefined,
    entries: [],
    members: [],
    roomCode: undefined,
    keyChanges: [],
    problem: undefined,
    oversize: undefined,
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    incoming: 0,
    displaced: false,
  })

  let session: ChatSession | undefined
  let closeStores: (() => void) | undefined
  let pendingFile: { name: string; bytes: Uint8Array } | undefined
  let lastSecret: string | undefined
  let noticeCount = 0
  let membersAsked = 0

  const config = fetch('/client.json')
    .then((response) => response.json())
    .then((json) => v.parse(ClientConfigSchema, json))
    .then((parsed) => setState('maxFileBytes', parsed.maxFileBytes))
    // The default limit is the server's default too; the server checks sizes anyway.
    .catch(() => {})

  function append(entry: Entry): void {
    setState('entries', state.entries.length, entry)
  }

  function notice(text: string, tone: NoticeEntry['tone'] = 'info', at = Date.now()): void {
    noticeCount += 1
    append({ kind: 'notice', key: `notice-${noticeCount}`, at, tone, text })
  }

  function refreshMembers(): void {
    const current = session
    if (!current) return
    const asked = ++membersAsked
    void current
      .members()
      .then((members) => {
        // Only the latest answer counts; an older one finishing late must not undo it.
        if (asked !== membersAsked || current !== session) return
        setState('members', members.sort(byRelevance(current.name)))
        setState('keyChanges', current.pendingKeyChanges())
      })
      .catch(() => {})
  }

  function onEvent(event: ChatEvent): void {
    switch (event.type) {
      case 'status':
        batch(() => {
          setState('status', event.status)
          setState('statusDetail', event.detail)
        })
        refreshMembers()
        return
      case 'message':
        append(entryOf(event, 'message'))
        if (!event.own) setState('incoming', (count) => count + 1)
        return
      case 'file':
        append(entryOf(event, 'file'))
        if (!event.own) setState('incoming', (count) => count + 1)
        return
      case 'presence': {
        const who = event.name === session?.name ? 'You' : event.name
        notice(
          event.event === 'join'
            ? `${who} joined`
            : `${who} ${LEAVE_REASONS[event.reason ?? 'disconnect']}`,
          'info',
          event.at,
        )
        refreshMembers()
        return
      }
      case 'membership':
        setState('roomCode', event.roomCode || undefined)
        for (const added of event.added) {
          if (added !== session?.name) notice(`${added} can now read what is sent`)
        }
        for (const removed of event.removed) notice(`${removed} was removed from the group`)
        refreshMembers()
        return
      case 'key-change':
        notice(
          `The key of ${event.name} changed. Sending is paused until you accept it.`,
          'warning',
        )
        refreshMembers()
        return
      case 'warning':
        if (event.code === 'history_unreadable') {
          notice('Messages sent before you joined cannot be read here: the group keys are new.')
        } else if (event.code === 'group_integrity') {
          // Someone tried to put a member or a group state here that the server never vouched
          // for; the change was refused, and this page rejoins.
          notice(`Security warning: ${event.message}. Nothing of it was applied.`, 'warning')
        } else {
          // The engine's warnings are lower-case phrases; on the page a notice is a sentence.
          notice(event.message.charAt(0).toUpperCase() + event.message.slice(1), 'warning')
        }
        return
      case 'error':
        // Refusals while joining are the join form's to explain.
        if (state.joining) return
        if (event.code === 'replaced') {
          // The same name joined from another tab or device: two pages taking turns would
          // knock each other out forever, so this one steps back.
          void stop()
          setState('displaced', true)
          notice('This name joined from another tab or device, so this page stopped.', 'warning')
          return
        }
        notice(`The server says: ${event.message}`, 'warning')
        return
    }
  }

  async function stop(): Promise<void> {
    const current = session
    session = undefined
    await current?.close().catch(() => {})
    closeStores?.()
    closeStores = undefined
  }

  async function join(name: string, secret?: string): Promise<void> {
    if (state.joining) return
    const check = checkName(name)
    if (!check.ok) {
      setState('joinError', `That name is not allowed: ${check.message}.`)
      return
    }
    batch(() => {
      setState('name', name)
      setState('joining', true)
      setState('joinError', undefined)
      setState('displaced', false)
    })
    await stop()
    await config
    let refusal: { code: ErrorCode; message: string } | undefined
    try {
      const stores = await openIndexedDbStores(name)
      closeStores = () => stores.close()
      const created = createChatSession({
        connect: webSocketTransport({ url: `wss://${location.host}/ws` }),
        name,
        stores,
        secret: secret === '' ? undefined : secret,
        maxFileBytes: state.maxFileBytes,
      })
      session = created
      created.on((event) => {
        if (session !== created) return
        if (event.type === 'error' && state.joining) refusal = event
        onEvent(event)
      })
      await created.connect()
    } catch (error) {
      await stop()
      batch(() => {
        setState('joining', false)
        setState('status', 'closed')
        // A failed rejoin from the room (after a reload or being displaced) lands on the form.
        setState('screen', 'join')
      })
      joinRefused(name, secret, refusal, error as Error)
      return
    }
    remember(name, secret)
    lastSecret = secret
    batch(() => {
      setState('joining', false)
      setState('askSecret', false)
      setState('screen', 'room')
    })
    refreshMembers()
  }

  function joinRefused(
    name: string,
    secret: string | undefined,
    refusal: { code: ErrorCode; message: string } | undefined,
    error: Error,
  ): void {
    sessionStorage.removeItem(JOINED_KEY)
    if (refusal && refusalRemedy(refusal.code) === 'ask_secret') {
      batch(() => {
        setState('askSecret', true)
        setState(
          'joinError',
          secret ? 'That room secret is wrong.' : 'This room asks for a secret.',
        )
      })
      return
    }
    if (error instanceof DamagedStoreError) {
      setState(
        'joinError',
        `This browser's saved keys for "${name}" cannot be used: ${error.message}.`,
      )
      return
    }
    const explain = refusal ? REFUSALS[refusal.code] : undefined
    setState(
      'joinError',
      explain
        ? explain(name)
        : refusal
          ? `The server refused: ${refusal.message}`
          : `Cannot reach the chat server (${error.message}).`,
    )
  }

  function remember(name: string, secret: string | undefined): void {
    try {
      localStorage.setItem(LAST_NAME_KEY, name)
      // The secret stays in this tab's session storage only, so a reload can rejoin.
      sessionStorage.setItem(JOINED_KEY, JSON.stringify({ name, secret: secret || undefined }))
    } catch {
      // Storage can be full or disabled; rejoining then just means typing the name again.
    }
  }

  function failed(error: unknown): void {
    const message =
      error instanceof ChatError
        ? error.code === 'key_change_unaccepted'
          ? `${error.message}.`
          : error.message
        : `Could not send: ${(error as Error).message}`
    setState('problem', message.charAt(0).toUpperCase() + message.slice(1))
  }

  async function sendText(text: string): Promise<boolean> {
    if (!session) return false
    try {
      await session.sendText(text)
      setState('problem', undefined)
      return true
    } catch (error) {
      failed(error)
      return false
    }
  }

  async function sendFile(file: File): Promise<void> {
    if (!session) return
    if (file.size > MAX_READ_BYTES) {
      setState('problem', `${file.name} is ${describeSize(file.size)}: too large to send.`)
      return
    }
    const bytes = new Uint8Array(await file.arrayBuffer())
    const check = checkTextFile(file.name, bytes, state.maxFileBytes)
    if (!check.ok && check.code === 'too_large') {
      pendingFile = { name: file.name, bytes }
      setState('oversize', { name: file.name, size: bytes.length })
      return
    }
    if (!check.ok) {
      setState('problem', `Cannot send ${file.name}: ${check.message}.`)
      return
    }
    await sendBytes({ name: file.name, bytes }, false)
  }

  async function sendBytes(file: { name: string; bytes: Uint8Array }, truncate: boolean) {
    if (!session) return
    try {
      await session.sendFile(file, { truncate })
      setState('problem', undefined)
    } catch (error) {
      failed(error)
    }
  }

  async function resolveOversize(send: boolean): Promise<void> {
    const file = pendingFile
    pendingFile = undefined
    setState('oversize', undefined)
    if (send && file) await sendBytes(file, true)
  }

  async function leave(): Promise<void> {
    const current = session
    session = undefined
    sessionStorage.removeItem(JOINED_KEY)
    await current?.leave().catch(() => {})
    closeStores?.()
    closeStores = undefined
    batch(() => {
      setState('screen', 'join')
      setState('status', 'closed')
      setState('entries', [])
      setState('members', [])
      setState('roomCode', undefined)
      setState('keyChanges', [])
      setState('problem', undefined)
    })
  }

  async function withSession<T>(task: (current: ChatSession) => Promise<T>): Promise<T> {
    if (!session) throw new Error('not in the room')
    return task(session)
  }

  // A reload of a tab that had joined goes straight back in, with the same stored identity and
  // group state, and resumes where it left off.
  const joined = v.safeParse(JoinedSchema, parseJson(sessionStorage.getItem(JOINED_KEY)))
  if (joined.success) {
    void join(joined.output.name, joined.output.secret).then(() => {
      if (state.screen === 'room') {
        notice('Back in the room. What was shown before the reload is not kept in this browser.')
      }
    })
  }

  // Flush the group state on the way out; a later visit resumes from it. A page the browser
  // restores from its back-forward cache has no session left: loading it anew rejoins.
  window.addEventListener('pagehide', () => void session?.close())
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && state.screen === 'room') location.reload()
  })

  return {
    state,
    join,
    rejoin: () => join(state.name, lastSecret),
    sendText,
    sendFile,
    resolveOversize,
    safetyNumber: (name) => withSession((current) => current.safetyNumber(name)),
    async markVerified(name) {
      await withSession((current) => current.markVerified(name))
      refreshMembers()
    },
    async acceptKey(name) {
      await withSession((current) => current.acceptKey(name))
      setState('problem', undefined)
      refreshMembers()
    },
    dismissProblem: () => setState('problem', undefined),
    leave,
  }
}

/** You first, then whoever is here, then the rest, each by name. */
function byRelevance(self: string) {
  const rank = (member: MemberView) => (member.name === self ? 0 : member.online ? 1 : 2)
  return (a: MemberView, b: MemberView) =>
    rank(a) - rank(b) || a.name.localeCompare(b.name, undefined, { sensitivity: 'base' })
}

function readLastName(): string {
  try {
    return localStorage.getItem(LAST_NAME_KEY) ?? ''
  } catch {
    return ''
  }
}

function parseJson(text: string | null): unknown {
  if (text === null) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
