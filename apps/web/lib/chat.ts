// All of the page's dealings with the chat engine: one session at a time, its events shown in a
// Solid store, and the commands the components call. Knows the engine's API; how events read, what
// the page says and what a tab keeps are the modules beside it; nothing of frames, MLS or the DOM.
import { batch } from 'solid-js'
import { createStore } from 'solid-js/store'
import * as v from 'valibot'
import type { ChatEvent } from '../../../shared/client/events.ts'
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
import type { ErrorCode } from '../../../shared/protocol/frames.ts'
import { DEFAULT_MAX_FILE_BYTES } from '../../../shared/protocol/limits.ts'
import { checkName } from '../../../shared/protocol/names.ts'
import {
  asSentence,
  type JoinFailure,
  joinFailureText,
  NOTICE_TEXTS,
  PROBLEM_TEXTS,
} from './copy.ts'
import { createTabSession } from './tab-session.ts'
import {
  changesMembers,
  EMPTY_TIMELINE,
  type Entry,
  reduceTimeline,
  type Timeline,
  withNotice,
} from './timeline-reducer.ts'

/**
 * Read-only to components: Solid's store proxy refuses writes from outside this module. Status,
 * room code, unread count and `displaced` are the timeline's, as the engine's events left them.
 */
export interface ChatState extends Shown {
  screen: 'join' | 'room'
  /** A join is under way: the form waits. */
  joining: boolean
  /** The name last typed or joined with. */
  name: string
  /** The server asked for the room secret. */
  askSecret: boolean
  joinError: string | undefined
  entries: Entry[]
  members: MemberView[]
  keyChanges: KeyChange[]
  /** The last command that failed, said for the user. */
  problem: string | undefined
  /** A file over the limit, waiting for "send the head" or "cancel". */
  oversize: { readonly name: string; readonly size: number } | undefined
  maxFileBytes: number
}

type Shown = Pick<Timeline, 'status' | 'statusDetail' | 'roomCode' | 'incoming' | 'displaced'>

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

/** A file this big is refused before reading it: the page would stall for nothing. */
const MAX_READ_BYTES = 64 * 1024 * 1024

export function createChat(): Chat {
  const tabSession = createTabSession(sessionStorage, localStorage)
  const [state, setState] = createStore<ChatState>({
    screen: 'join',
    joining: false,
    name: tabSession.lastName(),
    askSecret: false,
    joinError: undefined,
    ...shownAsIs(EMPTY_TIMELINE),
    // The store's own array: it grows in place, and the timeline's arrays must not.
    entries: [],
    members: [],
    keyChanges: [],
    problem: undefined,
    oversize: undefined,
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
  })

  let session: ChatSession | undefined
  let closeStores: (() => void) | undefined
  let pendingFile: { name: string; bytes: Uint8Array } | undefined
  let lastSecret: string | undefined
  /** What the engine's events have put on the page; the store shows it. */
  let timeline = EMPTY_TIMELINE
  let membersAsked = 0

  const config = fetch('/client.json')
    .then((response) => response.json())
    .then((json) => v.parse(ClientConfigSchema, json))
    .then((parsed) => setState('maxFileBytes', parsed.maxFileBytes))
    // The default limit is the server's default too; the server checks sizes anyway.
    .catch(() => {})

  /** Puts the timeline on the page; its list only grows, or empties on leaving. */
  function show(next: Timeline): void {
    timeline = next
    batch(() => {
      if (next.entries.length < state.entries.length) setState('entries', [])
      for (const entry of next.entries.slice(state.entries.length)) {
        setState('entries', state.entries.length, entry)
      }
      setState(shownAsIs(next))
    })
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
    const next = reduceTimeline(timeline, event, {
      self: session?.name,
      joining: state.joining,
      now: Date.now(),
    })
    if (next.displaced && !timeline.displaced) void stop()
    show(next)
    if (changesMembers(event)) refreshMembers()
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
      setState('joinError', joinFailureText(name, { kind: 'name', reason: check.message ?? '' }))
      return
    }
    batch(() => {
      setState('name', name)
      setState('joining', true)
      setState('joinError', undefined)
      show({ ...timeline, displaced: false })
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
      tabSession.forget()
      const failure = joinFailureOf(secret, refusal, error as Error)
      batch(() => {
        setState('joining', false)
        show({ ...timeline, status: 'closed' })
        // A failed rejoin from the room (after a reload or being displaced) lands on the form.
        setState('screen', 'join')
        if (failure.kind === 'secret') setState('askSecret', true)
        setState('joinError', joinFailureText(name, failure))
      })
      return
    }
    tabSession.remember(name, secret)
    lastSecret = secret
    batch(() => {
      setState('joining', false)
      setState('askSecret', false)
      setState('screen', 'room')
    })
    refreshMembers()
  }

  function failed(error: unknown): void {
    const message =
      error instanceof ChatError
        ? error.code === 'key_change_unaccepted'
          ? `${error.message}.`
          : error.message
        : PROBLEM_TEXTS.sendFailed((error as Error).message)
    setState('problem', asSentence(message))
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
      setState('problem', PROBLEM_TEXTS.tooLargeToRead(file.name, describeSize(file.size)))
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
      setState('problem', PROBLEM_TEXTS.cannotSend(file.name, check.message))
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
    tabSession.forget()
    await current?.leave().catch(() => {})
    closeStores?.()
    closeStores = undefined
    batch(() => {
      setState('screen', 'join')
      show({ ...timeline, status: 'closed', entries: [], roomCode: undefined })
      setState('members', [])
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
  const joined = tabSession.joined()
  if (joined) {
    void join(joined.name, joined.secret).then(() => {
      if (state.screen === 'room') {
        show(withNotice(timeline, NOTICE_TEXTS.reloaded, 'info', Date.now()))
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

/** Server refusals are told apart by refusals.ts alone; a damaged store only by its error. */
function joinFailureOf(
  secret: string | undefined,
  refusal: { code: ErrorCode; message: string } | undefined,
  error: Error,
): JoinFailure {
  if (refusal && refusalRemedy(refusal.code) === 'ask_secret') {
    return { kind: 'secret', given: Boolean(secret) }
  }
  if (error instanceof DamagedStoreError) return { kind: 'store', reason: error.message }
  if (refusal) return { kind: 'refused', code: refusal.code, message: refusal.message }
  return { kind: 'unreachable', reason: error.message }
}

/** The timeline's fields the store holds as they are (it appends the entries one by one). */
function shownAsIs({ status, statusDetail, roomCode, incoming, displaced }: Timeline): Shown {
  return { status, statusDetail, roomCode, incoming, displaced }
}

/** You first, then whoever is here, then the rest, each by name. */
function byRelevance(self: string) {
  const rank = (member: MemberView) => (member.name === self ? 0 : member.online ? 1 : 2)
  return (a: MemberView, b: MemberView) =>
    rank(a) - rank(b) || a.name.localeCompare(b.name, undefined, { sensitivity: 'base' })
}
