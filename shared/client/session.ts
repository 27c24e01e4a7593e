// The client engine both views share: joining, the MLS group's life, sending and reading
// messages and files, trust, resume and reconnect. It knows the protocol and MLS, and nothing of
// terminals, pages or which transport carries its frames.

import { keyFingerprint, roomCode, safetyNumber } from '../crypto/fingerprint.ts'
import {
  createIdentityKeyPair,
  exportIdentity,
  type IdentityKeyPair,
  importIdentity,
  signWithIdentity,
} from '../crypto/identity-key.ts'
import { epochDigest } from '../mls/public-group.ts'
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import { encodeFrame } from '../protocol/codec.ts'
import {
  authMessage,
  type ClientFrame,
  type CommitDeliverFrame,
  type ErrorCode,
  type GroupStatus,
  type Member,
  type ServerFrame,
} from '../protocol/frames.ts'
import { DEFAULT_MAX_FILE_BYTES } from '../protocol/limits.ts'
import { nameKey } from '../protocol/names.ts'
import type { ChatEvent, ChatListener, ConnectionStatus, WarningCode } from './events.ts'
import { checkTextFile, truncateUtf8 } from './files.ts'
import { commitProblem, welcomeProblem } from './group-checks.ts'
import {
  applyCommit,
  type ClientState,
  commitChanges,
  createKeyPackage,
  decodeState,
  decryptMessage,
  encodeState,
  encryptMessage,
  epochAuthenticator,
  epochOf,
  foundGroup,
  type GroupMember,
  groupIdOf,
  isRemoved,
  joinFromWelcome,
  membersOf,
  type OwnKeyPackage,
  readKeyPackage,
  type SigningKeys,
} from './mls.ts'
import {
  decodePayload,
  encodePayload,
  fileDigestMatches,
  newMessageId,
  type Payload,
  sha256Hex,
} from './payload.ts'
import { refusesJoin } from './refusals.ts'
import type { ClientStores } from './stores.ts'
import type { ClientTransport, ConnectTransport } from './transport.ts'
import { createTrustBook, type KeyChange } from './trust-book.ts'

export interface ChatSessionOptions {
  readonly connect: ConnectTransport
  readonly name: string
  readonly stores: ClientStores
  readonly secret?: string
  readonly maxFileBytes?: number
  /** Reconnect after a lost connection, with exponential backoff and jitter; on by default. */
  readonly reconnect?: false | { readonly initialMs: number; readonly maxMs: number }
  readonly now?: () => number
}

export interface MemberView {
  readonly name: string
  readonly identityKey: string
  readonly fingerprint: string
  /** Connected to the server now. */
  readonly online: boolean
  /** Holds a leaf in the MLS group: can read what is sent. */
  readonly inGroup: boolean
  readonly verified: boolean
  readonly keyChanged: boolean
}

export interface SentMessage {
  readonly id: string
}

export interface FileToSend {
  readonly name: string
  /** The file, or (for a large one) at least its first maxFileBytes + 1 bytes. */
  readonly bytes: Uint8Array
  /** The whole file's size when `bytes` holds only its head. */
  readonly size?: number
}

export class ChatError extends Error {
  constructor(
    readonly code:
      | 'not_connected'
      | 'not_in_group'
      | 'key_change_unaccepted'
      | 'empty'
      | 'too_long'
      | 'bad_file'
      | 'file_too_large'
      | 'unknown_member'
      | 'refused',
    message: string,
    /** For 'refused': the server's error code (name_taken, bad_secret, …); see refusals.ts. */
    readonly serverCode?: ErrorCode,
  ) {
    super(message)
  }
}

export interface ChatSession {
  readonly name: string
  readonly status: ConnectionStatus
  /** The identity key this client proves itself with (base64url). */
  readonly identityKey: string
  /** Connects and joins; resolves once admitted to the room (the group may follow). */
  connect(): Promise<void>
  /** Resolves once this client is in the MLS group and can send. */
  whenReady(): Promise<void>
  sendText(text: string): Promise<SentMessage>
  /** `.txt` only; over the size limit it throws `file_too_large` unless `truncate` is set. */
  sendFile(file: FileToSend, options?: { truncate?: boolean }): Promise<SentMessage>
  /** The safety number to compare with `name` out of band. */
  safetyNumber(name: string): Promise<string>
  markVerified(name: string): Promise<void>
  /** Accepts a changed key for `name`; sending resumes once no change is pending. */
  acceptKey(name: string): Promise<void>
  pendingKeyChanges(): KeyChange[]
  /** Own messages sent but not yet seen in the room's log. */
  unacknowledged(): number
  members(): Promise<MemberView[]>
  /** 12 digits everyone in this epoch of the group shares; undefined outside a group. */
  roomCode(): Promise<string | undefined>
  epoch(): number | undefined
  /** Leaves the room and the group for good (`/quit`). */
  leave(): Promise<void>
  /** Drops the connection without leaving; the state is kept for a later resume. */
  close(): Promise<void>
  on(listener: ChatListener): () => void
}

const PING_INTERVAL_MS = 25_000
/** How long a gap in sequence numbers may stay open before asking the server to resend. */
const GAP_WAIT_MS = 1_000
/** Frames held while waiting for a gap or a Welcome; more than this means something is wrong. */
const MAX_HELD_FRAMES = 10_000
const SAVE_DELAY_MS = 300
/** Stay under the server's bucket (20/s, bursts of 60) so no message is ever refused for rate. */
const SEND_RATE = { perSecond: 15, burst: 40 }

type LogFrame = Extract<ServerFrame, { type: 'app' } | { type: 'commit' }>
type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>

/** The server's answers that mean our commit was not taken. */
const COMMIT_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'stale_epoch',
  'unrequested_commit',
  'bad_commit',
  'commit_mismatch',
  'wrong_leaf',
  'key_mismatch',
  'bad_signature',
])
/** How long to wait before asking to be added again after the server said `rejoin_limited`. */
const REJOIN_RETRY_MS = 20_000

export function createChatSession(options: ChatSessionOptions): ChatSession {
  const { stores, name } = options
  const now = options.now ?? Date.now
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const trust = createTrustBook(stores.trust, now)
  const listeners = new Set<ChatListener>()

  let identity: IdentityKeyPair | undefined
  let status: ConnectionStatus = 'closed'
  let transport: ClientTransport | undefined
  let wanted = false
  let attempt = 0
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined
  let pingTimer: ReturnType<typeof setInterval> | undefined

  let group: ClientState | undefined
  let groupLoaded = false
  let ownKeyPackage: OwnKeyPackage | undefined
  let lastSeq = 0
  let seenSeq = 0
  const held = new Map<number, LogFrame>()
  let gapTimer: ReturnType<typeof setTimeout> | undefined
  /** Between `resume` and `resumed`: the log is being replayed, so new sends wait. */
  let catchingUp: PromiseWithResolvers<void> | undefined
  let pendingCommit: { epoch: number; commit: string; state: ClientState } | undefined
  /** Out of the group after refusing a changed key: rejoin once the user accepted it. */
  let waitingForKeyAcceptance = false
  let rejoinTimer: ReturnType<typeof setTimeout> | undefined
  /** Own messages sent but not yet seen in the log, by ciphertext: MLS cannot decrypt them. */
  const unacked = new Map<string, Payload>()
  const online = new Map<string, Member>()
  let saveTimer: ReturnType<typeof setTimeout> | undefined

  let admitted = Promise.withResolvers<void>()
  let inGroup = Promise.withResolvers<void>()
  inGroup.promise.catch(() => {})
  /** Whether `inGroup` has resolved: a drop renews only a resolved one, so no waiter is orphaned. */
  let inGroupResolved = false
  function becameReady(): void {
    inGroupResolved = true
    inGroup.resolve()
  }

  // Frames are handled one at a time, in arrival order, even when MLS work has to be awaited.
  let inbound: Promise<void> = Promise.resolve()

  /** Runs `step` in the inbound queue, so it never overlaps the handling of a frame. */
  function inTurn<T>(step: () => Promise<T>): Promise<T> {
    const result = inbound.then(step)
    inbound = result.then(
      () => {},
      () => {},
    )
    return result
  }

  // ---- events ---------------------------------------------------------------------------

  function emit(event: ChatEvent): void {
    for (const listener of listeners) {
      try {
        listener(event)
      } catch (error) {
        console.error('a chat listener threw:', error)
      }
    }
  }

  function warn(code: WarningCode, message: string): void {
    emit({ type: 'warning', code, message })
  }

  function setStatus(next: ConnectionStatus, detail?: string): void {
    if (status === next && detail === undefined) return
    status = next
    emit({ type: 'status', status: next, detail })
  }

  // ---- identity and state ---------------------------------------------------------------

  async function loadIdentity(): Promise<IdentityKeyPair> {
    if (identity) return identity
    const stored = await stores.identity.load()
    if (stored) {
      identity = await importIdentity(stored)
    } else {
      identity = await createIdentityKeyPair()
      await stores.identity.save({ ...exportIdentity(identity), createdAt: now() })
    }
    return identity
  }

  function signingKeys(): SigningKeys {
    const keys = identity as IdentityKeyPair
    return { name, signKey: keys.privateKeyBytes, publicKey: keys.publicKeyBytes }
  }

  async function loadGroup(): Promise<void> {
    if (groupLoaded) return
    groupLoaded = true
    const snapshot = await stores.group.load()
    if (!snapshot) return
    try {
      group = decodeState(decodeBase64url(snapshot.state))
      lastSeq = snapshot.lastSeq
    } catch {
      warn('out_of_sync', 'the saved group state could not be read; rejoining as a newcomer')
      await stores.group.clear()
    }
  }

  /** What was saved last: ts-mls states are immutable, so an unchanged object needs no save. */
  let saved: { state: ClientState; lastSeq: number } | undefined

  async function saveGroup(): Promise<void> {
    clearTimeout(saveTimer)
    saveTimer = undefined
    if (!group || (saved?.state === group && saved.lastSeq === lastSeq)) return
    saved = { state: group, lastSeq }
    await stores.group.save({
      groupId: groupIdOf(group),
      lastSeq,
      state: encodeBase64url(encodeState(group)),
    })
  }

  /** Messages advance the ratchet: save soon, but once for a burst rather than per message. */
  function saveSoon(): void {
    if (saveTimer) return
    saveTimer = setTimeout(() => {
      void saveGroup().catch((error) => warn('protocol', `could not save state: ${error}`))
    }, SAVE_DELAY_MS)
  }

  async function dropGroup(reason: string): Promise<void> {
    group = undefined
    pendingCommit = undefined
    held.clear()
    clearTimeout(saveTimer)
    saveTimer = undefined
    await stores.group.clear()
    if (inGroupResolved) {
      inGroup = Promise.withResolvers<void>()
      inGroup.promise.catch(() => {})
      inGroupResolved = false
    }
    if (reason) warn('out_of_sync', reason)
  }

  // ---- connection -----------------------------------------------------------------------

  function send(frame: ClientFrame): void {
    transport?.sendText(encodeFrame(frame))
  }

  async function open(): Promise<void> {
    await loadIdentity()
    await loadGroup()
    setStatus(attempt === 0 ? 'connecting' : 'reconnecting')
    const opened = await options.connect({
      frame: (frame) => {
        inbound = inbound.then(() => handle(frame)).catch((error) => failedFrame(frame, error))
      },
      invalid: (message) => warn('protocol', `the server sent an invalid frame: ${message}`),
      closed: (reason) => {
        inbound = inbound.then(() => lost(reason))
      },
    })
    transport = opened
    send({
      type: 'hello',
      name,
      identityKey: (identity as IdentityKeyPair).publicKeyText,
      ...(options.secret === undefined ? {} : { secret: options.secret }),
    })
    clearInterval(pingTimer)
    pingTimer = setInterval(() => send({ type: 'ping' }), PING_INTERVAL_MS)
  }

  function failedFrame(frame: ServerFrame, error: unknown): void {
    warn('protocol', `could not handle a ${frame.type} frame: ${(error as Error).message}`)
  }

  async function lost(reason: string): Promise<void> {
    transport = undefined
    catchingUp?.resolve()
    catchingUp = undefined
    clearInterval(pingTimer)
    clearTimeout(gapTimer)
    online.clear()
    await saveGroup().catch(() => {})
    if (!wanted) {
      // A close this client asked for has already said so.
      if (status !== 'closed') setStatus('closed', reason)
      return
    }
    admitted.reject(new ChatError('not_connected', reason))
    admitted = Promise.withResolvers<void>()
    admitted.promise.catch(() => {})
    scheduleReconnect(reason)
  }

  function scheduleReconnect(reason: string): void {
    if (options.reconnect === false) {
      wanted = false
      setStatus('closed', reason)
      return
    }
    const policy = options.reconnect ?? { initialMs: 500, maxMs: 30_000 }
    attempt += 1
    const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 16))
    // Full jitter: a server restart must not bring every client back in the same millisecond.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2)
    setStatus('reconnecting', `${reason}; trying again in ${Math.round(delay / 100) / 10} s`)
    clearTimeout(reconnectTimer)
    reconnectTimer = setTimeout(() => {
      if (!wanted) return
      open().catch((error: Error) => scheduleReconnect(error.message))
    }, delay)
  }

  // ---- frames ---------------------------------------------------------------------------

  async function handle(frame: ServerFrame): Promise<void> {
    switch (frame.type) {
      case 'challenge': {
        const signature = await signWithIdentity(
          identity as IdentityKeyPair,
          authMessage(frame.nonce, name),
        )
        send({ type: 'auth', signature })
        return
      }
      case 'ready':
        return onReady(frame.members, frame.head, frame.group)
      case 'presence':
        if (frame.event === 'join') {
          online.set(nameKey(frame.name), { name: frame.name, identityKey: frame.identityKey })
        } else if (online.get(nameKey(frame.name))?.identityKey === frame.identityKey) {
          online.delete(nameKey(frame.name))
        }
        emit({
          type: 'presence',
          event: frame.event,
          name: frame.name,
          at: frame.at,
          reason: frame.event === 'leave' ? frame.reason : undefined,
        })
        return
      case 'app':
      case 'commit':
        return onLogFrame(frame)
      case 'welcome':
        return onWelcome(frame)
      case 'found-request':
        return onFoundRequest()
      case 'group-ended':
        if (!group || groupIdOf(group) !== frame.groupId) return
        return outOfSync("the room's group was ended by the server")
      case 'commit-request':
        return onCommitRequest(frame.epoch, frame.add, frame.remove)
      case 'resumed':
        return onResumed()
      case 'error':
        return onError(frame.code, frame.message, frame.fatal)
      case 'pong':
        return
    }
  }

  async function onReady(
    members: Member[],
    head: number,
    status: GroupStatus | null,
  ): Promise<void> {
    attempt = 0
    online.clear()
    for (const member of members) online.set(nameKey(member.name), member)
    // The server's log is the truth: one that lost its data starts numbering again.
    seenSeq = head
    admitted.resolve()
    const mine =
      group &&
      status &&
      groupIdOf(group) === status.groupId &&
      status.roster.some((member) => nameKey(member) === nameKey(name))
    if (group && mine && epochOf(group) <= (status as GroupStatus).epoch && lastSeq <= head) {
      catchingUp = Promise.withResolvers<void>()
      send({ type: 'resume', afterSeq: lastSeq })
      setStatus('ready')
      becameReady()
      return
    }
    if (group) {
      await dropGroup(
        status?.groupId !== groupIdOf(group)
          ? "the room's group was started anew while this client was away; rejoining"
          : lastSeq > head
            ? "the server's log is behind this client's (it lost data); rejoining"
            : 'this client was removed from the group while away; rejoining',
      )
    }
    await askToJoin()
  }

  async function askToJoin(): Promise<void> {
    if (waitingForKeyAcceptance) return
    setStatus('joining', 'waiting for a member to add this client to the group')
    ownKeyPackage = await createKeyPackage(signingKeys())
    send({ type: 'key-package', keyPackage: encodeBase64url(ownKeyPackage.encoded) })
  }

  async function onFoundRequest(): Promise<void> {
    if (group || !ownKeyPackage) return
    const founded = await foundGroup(ownKeyPackage)
    group = founded.state
    ownKeyPackage = undefined
    lastSeq = seenSeq
    held.clear()
    send({ type: 'group-founded', groupInfo: encodeBase64url(founded.groupInfo) })
    await saveGroup()
    await groupChanged([name], [])
    becameMember()
  }

  async function onWelcome(frame: WelcomeFrame): Promise<void> {
    if (group || !ownKeyPackage) return
    const { seq } = frame
    let joined: ClientState
    try {
      joined = await joinFromWelcome(decodeBase64url(frame.welcome), ownKeyPackage)
    } catch (error) {
      await refuseGroupChange(
        seq,
        'invalid',
        `the Welcome from ${frame.from} could not be used: ${(error as Error).message}`,
      )
      return
    }
    // Checked before anything is pinned or shown: a Welcome into a copy of the group, or into one
    // holding a member the server never added, must leave no trace in the trust book.
    const problem =
      welcomeProblem(membersOf(joined), frame.roster) ??
      ((await epochDigest(joined.groupContext, joined.confirmationTag)) === frame.epochDigest
        ? undefined
        : "it puts this client in another state of the group than the server's")
    if (problem) {
      await refuseGroupChange(seq, 'invalid', `refused the Welcome from ${frame.from}: ${problem}`)
      return
    }
    const changed = await changedPins(membersOf(joined))
    if (changed) {
      await refuseGroupChange(seq, 'key_change', `did not join: ${changed}`)
      return
    }
    group = joined
    ownKeyPackage = undefined
    lastSeq = seq
    for (const heldSeq of held.keys()) if (heldSeq <= seq) held.delete(heldSeq)
    await saveGroup()
    await groupChanged([name], [])
    becameMember()
    await drainHeld()
  }

  function becameMember(): void {
    setStatus('ready')
    warn('history_unreadable', 'messages sent before you joined cannot be read (MLS by design)')
    becameReady()
    resendUnacked()
  }

  async function onCommitRequest(
    epoch: number,
    adds: Array<{ name: string; keyPackage: string }>,
    removes: string[],
  ): Promise<void> {
    if (!group || epochOf(group) !== epoch || pendingCommit) return
    const members = membersOf(group)
    const accepted: Array<Awaited<ReturnType<typeof readKeyPackage>>> = []
    for (const add of adds) {
      try {
        const peer = await readKeyPackage(decodeBase64url(add.keyPackage))
        if (nameKey(peer.name) !== nameKey(add.name)) throw new Error(`it names ${peer.name}`)
        const seen = await trust.observe(peer.name, peer.identityKey)
        if (seen === 'changed') {
          announceKeyChange(peer.name)
          throw new Error('its key differs from the one known for that name')
        }
        accepted.push(peer)
      } catch (error) {
        warn('refused_add', `not adding ${add.name}: ${(error as Error).message}`)
      }
    }
    const removeNames = new Set(removes.map(nameKey))
    for (const peer of accepted) removeNames.add(nameKey(peer.name))
    const removeLeaves = members
      .filter((member) => removeNames.has(nameKey(member.name)) && member.name !== name)
      .map((member) => member.leafIndex)
    const removed = members
      .filter((member) => removeLeaves.includes(member.leafIndex))
      .map((member) => member.name)
    if (accepted.length === 0 && removeLeaves.length === 0) return
    const result = await commitChanges(group, {
      add: accepted.map((peer) => peer.keyPackage),
      removeLeaves,
    })
    const commit = encodeBase64url(result.commit)
    pendingCommit = { epoch, commit, state: result.state }
    send({
      type: 'commit',
      epoch,
      commit,
      welcome: result.welcome ? encodeBase64url(result.welcome) : undefined,
      adds: accepted.map((peer) => peer.name),
      removes: removed,
    })
  }

  function onResumed(): void {
    resendUnacked()
    catchingUp?.resolve()
    catchingUp = undefined
  }

  async function onError(code: ErrorCode, message: string, fatal: boolean): Promise<void> {
    if (COMMIT_REFUSALS.has(code)) pendingCommit = undefined
    if (code === 'rejoin_limited' && !group) {
      // The server limits how often a name asks to be added; ask again once it lets us.
      clearTimeout(rejoinTimer)
      rejoinTimer = setTimeout(() => {
        if (!group && transport && !waitingForKeyAcceptance) void inTurn(askToJoin)
      }, REJOIN_RETRY_MS)
    }
    if (code === 'resume_gap' || code === 'resume_ahead') {
      catchingUp?.resolve()
      catchingUp = undefined
      await dropGroup('too far behind the room to catch up; rejoining as a newcomer')
      await askToJoin()
      return
    }
    // 'replaced': this identity connected again from elsewhere; fighting over it would never end.
    if (fatal && code !== 'going_away') {
      wanted = false
      admitted.reject(new ChatError('refused', message, code))
    }
    if (refusesJoin(code)) {
      admitted.reject(new ChatError('refused', message, code))
    }
    emit({ type: 'error', code, message, fatal })
  }

  // ---- the room's log, in order -----------------------------------------------------------

  async function onLogFrame(frame: LogFrame): Promise<void> {
    seenSeq = Math.max(seenSeq, frame.seq)
    if (!group) {
      // Waiting for a Welcome: what follows the commit that adds us must be read after it.
      if (ownKeyPackage && held.size < MAX_HELD_FRAMES) held.set(frame.seq, frame)
      return
    }
    if (frame.seq <= lastSeq) return
    if (frame.seq > lastSeq + 1) {
      if (held.size >= MAX_HELD_FRAMES) {
        held.clear()
        send({ type: 'resume', afterSeq: lastSeq })
        return
      }
      held.set(frame.seq, frame)
      watchGap()
      return
    }
    await applyLogFrame(frame)
    await drainHeld()
  }

  async function drainHeld(): Promise<void> {
    for (let next = held.get(lastSeq + 1); next && group; next = held.get(lastSeq + 1)) {
      held.delete(next.seq)
      await applyLogFrame(next)
    }
    if (held.size > 0) watchGap()
  }

  function watchGap(): void {
    if (gapTimer) return
    gapTimer = setTimeout(() => {
      gapTimer = undefined
      if (held.size > 0 && group) send({ type: 'resume', afterSeq: lastSeq })
    }, GAP_WAIT_MS)
  }

  async function applyLogFrame(frame: LogFrame): Promise<void> {
    lastSeq = frame.seq
    if (frame.type === 'app') await readMessage(frame.seq, frame.at, frame.from, frame.ciphertext)
    else await readCommit(frame)
    saveSoon()
  }

  async function readMessage(seq: number, at: number, from: string, ciphertext: string) {
    const own = unacked.get(ciphertext)
    if (own) {
      unacked.delete(ciphertext)
      showPayload(own, { seq, at, from: name, own: true })
      return
    }
    let decrypted: Awaited<ReturnType<typeof decryptMessage>>
    try {
      decrypted = await decryptMessage(group as ClientState, decodeBase64url(ciphertext))
    } catch (error) {
      warn(
        'undecryptable',
        `message #${seq} (said to be from ${from}) could not be read: ${(error as Error).message}`,
      )
      return
    }
    group = decrypted.state
    const decoded = decodePayload(decrypted.plaintext)
    if (!decoded.ok) {
      warn('bad_payload', `message #${seq} from ${decrypted.sender.name}: ${decoded.reason}`)
      return
    }
    const sender = decrypted.sender.name
    const claimedBy = nameKey(from) === nameKey(sender) ? undefined : from
    if (claimedBy) {
      warn(
        'sender_mismatch',
        `the server says message #${seq} is from ${from}, but ${sender} wrote it`,
      )
    }
    if (decoded.payload.kind === 'file' && !(await acceptableFile(decoded.payload, sender))) {
      return
    }
    showPayload(decoded.payload, { seq, at, from: sender, own: false, claimedBy })
  }

  async function acceptableFile(payload: Extract<Payload, { kind: 'file' }>, sender: string) {
    const problem = !(await fileDigestMatches(payload))
      ? 'its checksum does not match'
      : !payload.truncated && payload.bytes.length !== payload.size
        ? 'its declared size is wrong'
        : (() => {
            const check = checkTextFile(payload.name, payload.bytes, maxFileBytes)
            return check.ok ? undefined : check.message
          })()
    if (problem) warn('bad_file', `a file from ${sender} was refused: ${problem}`)
    return problem === undefined
  }

  function showPayload(
    payload: Payload,
    meta: { seq: number; at: number; from: string; own: boolean; claimedBy?: string },
  ): void {
    if (payload.kind === 'text') {
      emit({ type: 'message', id: payload.id, text: payload.text, ...meta })
      return
    }
    emit({
      type: 'file',
      id: payload.id,
      name: payload.name,
      size: payload.size,
      truncated: payload.truncated,
      sha256: payload.sha256,
      bytes: payload.bytes,
      ...meta,
    })
  }

  async function readCommit(frame: CommitDeliverFrame): Promise<void> {
    const current = group as ClientState
    let added: string[]
    let removed: string[]
    if (
      pendingCommit &&
      frame.epoch === pendingCommit.epoch &&
      frame.commit === pendingCommit.commit &&
      nameKey(frame.from) === nameKey(name)
    ) {
      // Our own commit won: only now is it merged.
      group = pendingCommit.state
      pendingCommit = undefined
      added = frame.adds.map((member) => member.name)
      removed = frame.removes
    } else {
      if (pendingCommit?.epoch === frame.epoch) pendingCommit = undefined
      if (frame.epoch < epochOf(current)) return
      if (frame.epoch > epochOf(current)) {
        await outOfSync(`a commit for epoch ${frame.epoch} arrived at epoch ${epochOf(current)}`)
        return
      }
      let effect: Awaited<ReturnType<typeof applyCommit>>
      try {
        effect = await applyCommit(current, decodeBase64url(frame.commit))
      } catch (error) {
        await refuseGroupChange(
          frame.seq,
          'invalid',
          `${frame.from}'s commit #${frame.seq} could not be applied: ${(error as Error).message}`,
        )
        return
      }
      const problem = isRemoved(effect.state)
        ? undefined
        : commitProblem(
            {
              before: membersOf(current),
              after: membersOf(effect.state),
              added: effect.added,
              removed: effect.removed,
            },
            frame,
          )
      if (problem) {
        await refuseGroupChange(
          frame.seq,
          'invalid',
          `refused ${frame.from}'s commit #${frame.seq}: ${problem}`,
        )
        return
      }
      const changed = isRemoved(effect.state) ? undefined : await changedPins(effect.added)
      if (changed) {
        await refuseGroupChange(frame.seq, 'key_change', `left the group: ${changed}`)
        return
      }
      group = effect.state
      added = effect.added.map((leaf) => leaf.name)
      removed = effect.removed
    }
    if (isRemoved(group as ClientState)) {
      await dropGroup('')
      emit({
        type: 'membership',
        epoch: epochOf(current) + 1,
        members: [],
        added,
        removed,
        roomCode: '',
      })
      if (wanted && transport) await askToJoin()
      return
    }
    await saveGroup()
    await groupChanged(added, removed)
  }

  /**
   * The first of these leaves whose key differs from the one this user trusts for that name, as a
   * sentence; it is recorded as a change for the user to accept. Nothing new is pinned here.
   */
  async function changedPins(leaves: readonly GroupMember[]): Promise<string | undefined> {
    for (const leaf of leaves) {
      if (nameKey(leaf.name) === nameKey(name)) continue
      if ((await trust.check(leaf.name, leaf.identityKey)) !== 'changed') continue
      await trust.observe(leaf.name, leaf.identityKey)
      announceKeyChange(leaf.name)
      return `the key of ${leaf.name} is not the one you trust; accept it to join again`
    }
    return undefined
  }

  /**
   * Refuses a commit or Welcome: nothing of it is applied. The client says so to the server (which
   * holds an invalid one against its committer), leaves the group and asks to be added afresh —
   * at once, or after the user accepted a changed key.
   */
  async function refuseGroupChange(
    seq: number,
    reason: 'invalid' | 'key_change',
    message: string,
  ): Promise<void> {
    warn('group_integrity', message)
    send({ type: 'commit-refused', seq, reason })
    await dropGroup('')
    if (reason === 'key_change') {
      waitingForKeyAcceptance = true
      setStatus('joining', 'waiting for you to accept a changed key')
      return
    }
    if (transport) await askToJoin()
  }

  async function outOfSync(reason: string): Promise<void> {
    await dropGroup(`${reason}; rejoining as a newcomer`)
    if (transport) await askToJoin()
  }

  /** After every change of the group: check each member's key, then tell the view. */
  async function groupChanged(added: string[], removed: string[]): Promise<void> {
    const current = group as ClientState
    for (const member of membersOf(current)) {
      if (member.name === name) continue
      if ((await trust.observe(member.name, member.identityKey)) === 'changed') {
        announceKeyChange(member.name)
      }
    }
    emit({
      type: 'membership',
      epoch: epochOf(current),
      members: membersOf(current).map((member) => member.name),
      added,
      removed,
      roomCode: await roomCode(epochAuthenticator(current)),
    })
  }

  function announceKeyChange(peer: string): void {
    const change = trust.pendingChanges().find((item) => nameKey(item.name) === nameKey(peer))
    if (change) emit({ type: 'key-change', ...change })
  }

  // ---- sending --------------------------------------------------------------------------

  const bucket = { tokens: SEND_RATE.burst, at: now() }
  async function paced(): Promise<void> {
    for (;;) {
      const at = now()
      bucket.tokens = Math.min(
        SEND_RATE.burst,
        bucket.tokens + ((at - bucket.at) / 1000) * SEND_RATE.perSecond,
      )
      bucket.at = at
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 / SEND_RATE.perSecond))
    }
  }

  let outbound: Promise<unknown> = Promise.resolve()

  function sendPayload(payload: Payload): Promise<SentMessage> {
    const pending = trust.pendingChanges()
    if (pending.length > 0) {
      const names = pending.map((change) => change.name).join(', ')
      return Promise.reject(
        new ChatError('key_change_unaccepted', `the key of ${names} changed: accept it first`),
      )
    }
    if (!group) {
      return Promise.reject(new ChatError('not_in_group', 'not in the group yet'))
    }
    // Encrypt in call order: each message takes the next generation of this member's ratchet.
    const sent = outbound.then(async () => {
      // New messages wait until the missed log is read and the unacknowledged are resent.
      await catchingUp?.promise
      await paced()
      // In the inbound queue: a frame being decrypted meanwhile would start from the same state,
      // and whichever wrote `group` last would undo the other's ratchet step, so the next message
      // would reuse a generation that receivers have already used up.
      return inTurn(async () => {
        if (!group) throw new ChatError('not_in_group', 'not in the group')
        const encrypted = await encryptMessage(group, encodePayload(payload))
        group = encrypted.state
        const ciphertext = encodeBase64url(encrypted.ciphertext)
        unacked.set(ciphertext, payload)
        saveSoon()
        send({ type: 'app', ciphertext })
        return { id: payload.id }
      })
    })
    outbound = sent.catch(() => {})
    return sent
  }

  /** Messages sent into a connection that dropped: the server may never have logged them. */
  function resendUnacked(): void {
    for (const ciphertext of unacked.keys()) send({ type: 'app', ciphertext })
  }

  return {
    name,
    get status() {
      return status
    },
    get identityKey() {
      return identity?.publicKeyText ?? ''
    },
    async connect() {
      wanted = true
      attempt = 0
      admitted = Promise.withResolvers<void>()
      admitted.promise.catch(() => {})
      await open()
      await admitted.promise
    },
    whenReady: () => inGroup.promise,
    sendText(text) {
      if (text.trim() === '') return Promise.reject(new ChatError('empty', 'nothing to send'))
      if (new TextEncoder().encode(text).length > 64 * 1024) {
        return Promise.reject(new ChatError('too_long', 'a message is at most 64 KiB'))
      }
      return sendPayload({ kind: 'text', id: newMessageId(), text })
    },
    async sendFile(file, sendOptions = {}) {
      const size = Math.max(file.size ?? 0, file.bytes.length)
      const check = checkTextFile(file.name, file.bytes, maxFileBytes)
      let bytes = file.bytes
      if (!check.ok || size > maxFileBytes) {
        if (!check.ok && check.code !== 'too_large') throw new ChatError('bad_file', check.message)
        if (!sendOptions.truncate) {
          throw new ChatError('file_too_large', `the file is over the ${maxFileBytes}-byte limit`)
        }
        bytes = truncateUtf8(file.bytes, maxFileBytes)
      }
      return sendPayload({
        kind: 'file',
        id: newMessageId(),
        name: file.name.split(/[\\/]/).at(-1) ?? file.name,
        size,
        sha256: await sha256Hex(bytes),
        truncated: bytes.length < size,
        bytes,
      })
    },
    async safetyNumber(peer) {
      const record = await trust.get(peer)
      if (!record) throw new ChatError('unknown_member', `no key known for ${peer}`)
      const own = await loadIdentity()
      return safetyNumber(
        { name, identityKey: own.publicKeyText },
        { name: record.name, identityKey: record.identityKey },
      )
    },
    async markVerified(peer) {
      if (!(await trust.markVerified(peer))) {
        throw new ChatError('unknown_member', `no trusted key for ${peer} to mark verified`)
      }
    },
    async acceptKey(peer) {
      if (!(await trust.accept(peer))) {
        throw new ChatError('unknown_member', `no changed key pending for ${peer}`)
      }
      // Out of the group over this key: with every change accepted, ask to be added again.
      if (waitingForKeyAcceptance && trust.pendingChanges().length === 0) {
        waitingForKeyAcceptance = false
        if (!group && transport) await inTurn(askToJoin)
      }
    },
    pendingKeyChanges: () => trust.pendingChanges(),
    unacknowledged: () => unacked.size,
    async members() {
      const byName = new Map<string, { name: string; identityKey: string; inGroup: boolean }>()
      for (const member of group ? membersOf(group) : []) {
        byName.set(nameKey(member.name), { ...member, inGroup: true })
      }
      for (const member of online.values()) {
        if (!byName.has(nameKey(member.name)))
          byName.set(nameKey(member.name), { ...member, inGroup: false })
      }
      const changed = new Set(trust.pendingChanges().map((change) => nameKey(change.name)))
      return Promise.all(
        [...byName.values()].map(async (member) => ({
          name: member.name,
          identityKey: member.identityKey,
          fingerprint: await keyFingerprint(member.identityKey),
          online: online.has(nameKey(member.name)),
          inGroup: member.inGroup,
          verified:
            member.name === name ||
            (((await trust.get(member.name))?.verified ?? false) &&
              !changed.has(nameKey(member.name))),
          keyChanged: changed.has(nameKey(member.name)),
        })),
      )
    },
    async roomCode() {
      return group ? roomCode(epochAuthenticator(group)) : undefined
    },
    epoch: () => (group ? epochOf(group) : undefined),
    async leave() {
      wanted = false
      clearTimeout(reconnectTimer)
      await inbound
      send({ type: 'leave' })
      // Said before the server's close arrives, so that close is not reported as a loss.
      setStatus('closed', 'left the room')
      // The committer removes this leaf: what is kept would only be a stale copy.
      await dropGroup('')
      transport?.close()
    },
    async close() {
      wanted = false
      clearTimeout(reconnectTimer)
      clearInterval(pingTimer)
      await inbound
      await saveGroup()
      transport?.close()
      setStatus('closed', 'closed')
    },
    on(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
