// All of the page's dealings with the chat engine: one session at a time, its events shown in a
// Solid store, and the commands the components call. Knows the engine's API; how events read, what
// the page says and what a tab keeps are the modules beside it; nothing of frames, MLS or the DOM.
import { batch } from 'solid-js'
import { createStore, reconcile } from 'solid-js/store'
import * as v from 'valibot'
import type { ChatEvent } from '../../../shared/client/events.ts'
import {
  deleteIndexedDbStores,
  openIndexedDbStores,
} from '../../../shared/client/indexeddb-stores.ts'
import {
  ChatError,
  type ChatSession,
  createChatSession,
  type DeviceView,
  type ShownMessage,
} from '../../../shared/client/session.ts'
import { webSocketTransport } from '../../../shared/client/websocket-transport.ts'
import type { ErrorCode } from '../../../shared/protocol/frames.ts'
import { checkName } from '../../../shared/protocol/names.ts'
import { type ChatState, initialChatState, shownAsIs } from './chat-state.ts'
import { asSentence, joinFailureText, NOTICE_TEXTS, PROBLEM_TEXTS } from './copy.ts'
import { clearedTimeline, createEarlierPages, historyLimits, withEarlier } from './earlier.ts'
import { createFileSender } from './file-sender.ts'
import { inviteFor } from './invite.ts'
import { joinFailureOf } from './join-failure.ts'
import { byRelevance } from './member-order.ts'
import { createNotifications, type Notifications } from './notifications.ts'
import { createTabSession } from './tab-session.ts'
import {
  changesMembers,
  EMPTY_TIMELINE,
  reduceTimeline,
  type Timeline,
  withNotice,
} from './timeline-reducer.ts'

export type { ChatState }

export interface Chat {
  readonly state: ChatState
  /** With `link`, as a new device of a name used elsewhere: it waits for approval by its code. */
  join(name: string, secret?: string, link?: boolean): Promise<void>
  /** Gives up a join under way: the link code on screen is no longer waited on. */
  cancelJoin(): void
  /** Joins again with the name and secret last used, after this page was displaced. */
  rejoin(): Promise<void>
  sendText(text: string): Promise<boolean>
  sendFile(file: File): Promise<void>
  /** Sends an own message that failed again (its entry's Retry). */
  retry(id: string): Promise<void>
  readonly notifications: Notifications
  /** Answers the oversize question: send the truncated head, or drop the file. */
  resolveOversize(send: boolean): Promise<void>
  safetyNumber(name: string): Promise<string>
  markVerified(name: string): Promise<void>
  acceptKey(name: string): Promise<void>
  dismissProblem(): void
  /** Puts the next page of kept messages on the list, before those shown. */
  showEarlier(): void
  /** Forgets the messages this browser keeps for this name, and empties the list. */
  clearHistory(): Promise<void>
  /** Leaves the room for good: this name's group state is dropped, identity kept. */
  leave(): Promise<void>
  /** Lists everyone online in a large room (the member list asks when it is opened). */
  loadAllMembers(): Promise<void>
  /** Approves the new device of this name that shows `code`; the devices after. */
  approveDevice(code: string): Promise<DeviceView[]>
  devices(): Promise<DeviceView[]>
  unlinkDevice(identityKey: string): Promise<DeviceView[]>
  /** After this device was unlinked: forgets all this browser keeps for the name. */
  forgetDevice(): Promise<void>
}

/** What the server tells the page about itself before joining. */
const ClientConfigSchema = v.object({
  maxFileBytes: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
})

export function createChat(): Chat {
  const tabSession = createTabSession(sessionStorage, localStorage)
  const [state, setState] = createStore<ChatState>(initialChatState(tabSession.lastName()))

  let session: ChatSession | undefined
  let closeStores: (() => void) | undefined
  let lastSecret: string | undefined
  /** The join under way was given up (Cancel while a link code waits): no failure to explain. */
  let joinCancelled = false
  /** What the engine's events have put on the page; the store shows it. */
  let timeline = EMPTY_TIMELINE
  let membersAsked = 0
  const earlier = createEarlierPages()
  const notifications = createNotifications(localStorage)
  /** Membership events seen: each brings its epoch's room code. */
  let groupChanges = 0

  const config = fetch('/client.json')
    .then((response) => response.json())
    .then((json) => v.parse(ClientConfigSchema, json))
    .then((parsed) => setState('maxFileBytes', parsed.maxFileBytes))
    // The default limit is the server's default too; the server checks sizes anyway.
    .catch(() => {})

  /** Puts the timeline on the page; its list grows at the end, save for what `reset` tells. */
  function show(next: Timeline): void {
    const before = timeline
    timeline = next
    batch(() => {
      if (reset(before, next)) setState('entries', [...next.entries])
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
        // Only the latest answer counts; rows are matched by name, so a focused button stays.
        if (asked !== membersAsked || current !== session) return
        setState('members', reconcile(members.sort(byRelevance(current.name)), { key: 'name' }))
        setState({ online: current.onlineCount(), allMembersListed: current.allMembersListed() })
        setState('keyChanges', current.pendingKeyChanges())
      })
      .catch(() => {})
  }

  function onEvent(event: ChatEvent): void {
    let next = reduceTimeline(timeline, event, {
      self: session?.name,
      joining: state.joining,
      now: Date.now(),
    })
    if (next.displaced && !timeline.displaced) void stop()
    // Unlinked: its key is refused from now on, so a reload must not try it again.
    if (next.unlinked && !timeline.unlinked) {
      tabSession.forget()
      void stop()
      // The session's own word that it closed comes after this page stopped listening to it.
      next = { ...next, status: 'closed', statusDetail: undefined }
    }
    if (event.type === 'link-code') setState('linking', { ...event, approved: false })
    if (event.type === 'linked' && state.linking) {
      setState('linking', { ...state.linking, approved: true })
    }
    show(next)
    notifications.notice(event)
    // Admitted: the server said its own limits (`ready`), which may differ from /client.json's.
    if (event.type === 'status' && session) setState('maxFileBytes', session.maxFileBytes())
    if (changesMembers(event)) refreshMembers()
    if (event.type === 'membership') groupChanges++
    // A group loaded from storage (a reload) brings no membership event: ask for its room code.
    if (event.type === 'status' && event.status === 'ready') void showRoomCode(groupChanges)
  }

  async function showRoomCode(changes: number): Promise<void> {
    const asked = session
    const code = await asked?.roomCode().catch(() => undefined)
    // Unless the session ended, or a newer membership event brought a newer code meanwhile.
    if (code && asked === session && changes === groupChanges) show({ ...timeline, roomCode: code })
  }

  async function stop(): Promise<void> {
    const current = session
    session = undefined
    await current?.close().catch(() => {})
    closeStores?.()
    closeStores = undefined
  }

  async function join(name: string, secret?: string, link = false): Promise<void> {
    if (state.joining) return
    const check = checkName(name)
    if (!check.ok) {
      setState('joinError', joinFailureText(name, { kind: 'name', reason: check.message ?? '' }))
      return
    }
    batch(() => {
      setState({ name, linkDevice: link, joining: true, joinError: undefined })
      show({ ...timeline, displaced: false, unlinked: false })
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
        ...inviteFor(name),
        maxFileBytes: state.maxFileBytes,
        history: historyLimits(localStorage),
        linkDevice: link,
      })
      session = created
      created.on((event) => {
        if (session !== created) return
        if (event.type === 'error' && state.joining) refusal = event
        onEvent(event)
      })
      // What this browser kept loads while connecting, and goes before what arrived meanwhile.
      void created.history().then((kept) => {
        if (session === created) showEarlier(earlier.start(kept))
      })
      joinCancelled = false
      await created.connect()
    } catch (error) {
      await stop()
      tabSession.forget()
      const failure = joinFailureOf(secret, refusal, error as Error)
      batch(() => {
        setState({ joining: false, linking: undefined })
        show({ ...timeline, status: 'closed' })
        // A failed rejoin from the room (after a reload or being displaced) lands on the form.
        setState('screen', 'join')
        if (failure.kind === 'secret') setState('askSecret', true)
        if (!joinCancelled) setState('joinError', joinFailureText(name, failure))
      })
      return
    }
    tabSession.remember(name, secret)
    lastSecret = secret
    const deviceKey = session?.identityKey
    // Linked now (or never needed to be): a later join from the form goes straight in.
    setState({
      joining: false,
      askSecret: false,
      linking: undefined,
      linkDevice: false,
      deviceKey,
      screen: 'room',
    })
    refreshMembers()
  }

  const files = createFileSender({
    session: () => session,
    maxFileBytes: () => state.maxFileBytes,
    setProblem: (problem) => setState('problem', problem),
    setOversize: (oversize) => setState('oversize', oversize),
    failed,
  })

  function failed(error: unknown): void {
    // Its entry on the list is marked failed, with a Retry: a bar would say it twice.
    if (error instanceof ChatError && error.code === 'send_failed') return
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
      // One that failed on its way is on the list, marked, with a Retry: the composer lets go.
      return error instanceof ChatError && error.code === 'send_failed'
    }
  }

  async function leave(): Promise<void> {
    const current = session
    session = undefined
    tabSession.forget()
    await current?.leave().catch(() => {})
    closeStores?.()
    closeStores = undefined
    toJoinForm()
  }

  /** Unlinked: what is kept for the name is of no more use here; a new link starts afresh. */
  async function forgetDevice(): Promise<void> {
    await stop()
    await deleteIndexedDbStores(state.name).catch(() => {})
    earlier.forget()
    // Before the form shows: it starts from this choice.
    setState({ linkDevice: true, earlierHidden: 0 })
    toJoinForm()
  }

  function toJoinForm(): void {
    batch(() => {
      setState({ screen: 'join', members: [], keyChanges: [], problem: undefined })
      show({ ...timeline, status: 'closed', entries: [], roomCode: undefined, deliveries: {} })
    })
  }

  function showEarlier(page: readonly ShownMessage[]): void {
    show(withEarlier(timeline, page, Date.now()))
    setState('earlierHidden', earlier.hidden())
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
    cancelJoin() {
      if (!state.joining) return
      // Closing the session ends its connect (it rejects), which the join then takes quietly.
      joinCancelled = true
      void stop()
    },
    rejoin: () => join(state.name, lastSecret),
    sendText,
    sendFile: files.sendFile,
    retry: (id) => withSession((current) => current.retry(id)).then(() => {}, failed),
    notifications,
    resolveOversize: files.resolveOversize,
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
    showEarlier: () => showEarlier(earlier.more()),
    async clearHistory() {
      // Displaced, this page has no session: the one in the other tab keeps the history.
      if (!session) return
      const forgotten = await session.clearHistory()
      earlier.forget()
      showEarlier([])
      show(clearedTimeline(timeline, forgotten, Date.now()))
    },
    leave,
    loadAllMembers: () =>
      withSession((current) => current.loadAllMembers()).then(refreshMembers, failed),
    approveDevice: (code) => withSession((current) => current.approveDevice(code)),
    devices: () => withSession((current) => current.devices()),
    unlinkDevice: (key) => withSession((current) => current.unlinkDevice(key)),
    forgetDevice,
  }
}

/** Leaving or clearing empties the list, kept history goes in before: set it whole then. */
function reset(before: Timeline, next: Timeline): boolean {
  const last = before.entries.length - 1
  return next.entries.length <= last || (last >= 0 && next.entries[last] !== before.entries[last])
}
