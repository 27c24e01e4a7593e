// Builds the engine's parts and wires them together: the connection, the log reader, the
// membership state machine, the outbox and the message reader, and routes every frame from the
// server to the part it concerns. The facade (session.ts) offers them to the views.

import { linkCode, personKeyOf } from '../crypto/device-links.ts'
import { roomCode } from '../crypto/fingerprint.ts'
import {
  createIdentityKeyPair,
  exportIdentity,
  type IdentityKeyPair,
  importIdentity,
  signWithIdentity,
} from '../crypto/identity-key.ts'
import { encodeBase64url } from '../protocol/base64url.ts'
import { authMessage, type DeviceLink, type ServerFrame } from '../protocol/frames.ts'
import { DEFAULT_MAX_FILE_BYTES } from '../protocol/limits.ts'
import { ChatError } from './chat-error.ts'
import { type Clock, systemClock } from './clock.ts'
import { Connection } from './connection.ts'
import { DeviceDesk } from './devices.ts'
import { EventHub } from './event-hub.ts'
import {
  createHistory,
  DEFAULT_HISTORY_LIMITS,
  type History,
  type HistoryLimits,
} from './history.ts'
import { LogReader } from './log-reader.ts'
import { Membership } from './membership.ts'
import { readMessage } from './message-reader.ts'
import { type ClientState, epochAuthenticator, epochOf } from './mls.ts'
import { OnlineRoster } from './online-roster.ts'
import { Outbox } from './outbox.ts'
import { outgoingKeeper } from './outgoing-keeper.ts'
import type { Self } from './person-keys.ts'
import { COMMIT_NOT_TAKEN, mayRefuseMessages, refusesJoin } from './refusals.ts'
import { createSeenCiphertexts } from './seen-ciphertexts.ts'
import { SerialQueue } from './serial-queue.ts'
import type { ClientStores } from './stores.ts'
import type { ConnectTransport } from './transport.ts'
import { createTrustBook, type TrustBook } from './trust-book.ts'

export interface EngineOptions {
  readonly connect: ConnectTransport
  readonly name: string
  readonly stores: ClientStores
  readonly secret?: string
  /** An admin's invite for `name` (`bun run admin invite`): lets this key bind the name. */
  readonly invite?: string
  /** The file limit until the server says its own in `ready`. */
  readonly maxFileBytes?: number
  /** Reconnect after a lost connection, with exponential backoff and jitter; on by default. */
  readonly reconnect?: false | { readonly initialMs: number; readonly maxMs: number }
  readonly clock?: Clock
  /** How much of what is shown the device keeps for the next session (history.ts). */
  readonly history?: HistoryLimits
  /**
   * Join as another device of `name`, which a device that holds it already must approve: until it
   * does, the room shows a link code (a `link-code` event) and waits. Ignored once linked.
   */
  readonly linkDevice?: boolean
}

export interface Engine {
  readonly hub: EventHub
  readonly trust: TrustBook
  readonly queue: SerialQueue
  readonly connection: Connection
  readonly membership: Membership
  readonly outbox: Outbox
  /** Who is connected to the room now: the list (paged in a large room) and the count. */
  readonly roster: OnlineRoster
  /** Messages shown on this device, kept for the next session. */
  readonly history: History
  /** This person's devices: approve a new one, list them, unlink one. */
  readonly devices: DeviceDesk
  /** This client as the checks of other devices' leaves need it. */
  self(): Self
  loadIdentity(): Promise<IdentityKeyPair>
  identityKey(): string
  /** The largest file the server takes whole (from `ready`; the option before that). */
  maxFileBytes(): number
  roomCode(): Promise<string | undefined>
  epoch(): number | undefined
}

export function createEngine(options: EngineOptions): Engine {
  const { stores, name } = options
  const clock = options.clock ?? systemClock
  const hub = new EventHub()
  const trust = createTrustBook(stores.trust, clock.now)
  const queue = new SerialQueue()
  let maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  let identity: IdentityKeyPair | undefined
  /** This device's approvals up to its person's first key; none for a first device. */
  let links: readonly DeviceLink[] = []
  /** Goes into the link code this device shows while it waits to be linked; one per run. */
  const linkNonce = encodeBase64url(crypto.getRandomValues(new Uint8Array(16)))
  /** Whether this connection's hello asked to be linked: only then are approvals taken. */
  let askedToLink = false
  // One load for every caller: two at once must not each make and save an identity of their own.
  let loadingIdentity: Promise<IdentityKeyPair> | undefined

  function loadIdentity(): Promise<IdentityKeyPair> {
    loadingIdentity ??= (async () => {
      const stored = await stores.identity.load()
      const loaded = stored ? await importIdentity(stored) : await createIdentityKeyPair()
      if (!stored) await stores.identity.save({ ...exportIdentity(loaded), createdAt: clock.now() })
      identity = loaded
      links = stored?.links ?? []
      return loaded
    })().catch((error: unknown) => {
      loadingIdentity = undefined
      throw error
    })
    return loadingIdentity
  }
  const historyOwner = async () => ({ name, identityKey: (await loadIdentity()).publicKeyText })
  const historyLimits = options.history ?? DEFAULT_HISTORY_LIMITS
  const history = createHistory({
    store: stores.history,
    owner: historyOwner,
    limits: historyLimits,
    now: () => clock.now(),
  })

  /** Loaded before the first frame is sent (in `prepare`), so every later use finds it. */
  function ownIdentity(): IdentityKeyPair {
    if (!identity) throw new Error('the identity key is loaded before connecting')
    return identity
  }

  const connection: Connection = new Connection({
    connect: options.connect,
    reconnect: options.reconnect,
    clock,
    hub,
    queue,
    async prepare() {
      await loadIdentity()
      await membership.load()
      await outbox.restore()
    },
    hello: () => ({
      type: 'hello',
      name,
      identityKey: ownIdentity().publicKeyText,
      ...(options.secret === undefined ? {} : { secret: options.secret }),
      // Sent with every hello: the server uses it only while the name is not bound to this key.
      ...(options.invite === undefined ? {} : { invite: options.invite }),
      ...(askToLink() ? { link: { nonce: linkNonce } } : {}),
    }),
    receive,
    async lost() {
      outbox.caughtUp()
      outbox.offline()
      reader.stop()
      roster.lost()
      devices.lost()
      await membership.save().catch(() => {})
    },
  })
  const send = connection.send.bind(connection)
  const roster = new OnlineRoster(hub, send)
  const reader: LogReader = new LogReader({
    clock,
    position: () => membership.position,
    awaitingWelcome: () => membership.state.kind === 'joining',
    async apply(frame) {
      membership.advanceTo(frame.seq)
      // The kept history first: it tells a message shown before from a new one.
      if (frame.type === 'app') await history.ready().then(() => readMessage(frame, messageContext))
      else await membership.readCommit(frame)
      membership.saveSoon()
    },
    resume: (afterSeq) => send({ type: 'resume', afterSeq }),
  })
  const membership: Membership = new Membership({
    name,
    store: stores.group,
    trust,
    hub,
    clock,
    keys: () => {
      const keys = ownIdentity()
      return { name, signKey: keys.privateKeyBytes, publicKey: keys.publicKeyBytes, links }
    },
    self,
    send,
    setStatus: (status, detail) => connection.setStatus(status, detail),
    connected: () => connection.open,
    log: {
      seen: () => reader.seen,
      forgetThrough: (seq) => reader.forgetThrough(seq),
      drain: () => reader.drain(),
      clear: () => reader.clear(),
    },
    joined: () => outbox.resend(),
  })
  const outbox = new Outbox({
    clock,
    queue,
    trust,
    group: () => membership.group,
    replaceGroup: (group) => membership.replaceGroup(group),
    saveGroup: () => membership.save(),
    send,
    connected: () => connection.open,
    report: (event) => hub.emit(event),
    ownCommitSettled: () => membership.ownCommitSettled(),
    keeper: outgoingKeeper(stores.history, historyOwner, historyLimits.maxMessages > 0),
  })
  const messageContext = {
    name,
    hub: history.gate(hub),
    maxFileBytes: () => maxFileBytes,
    group: () => membership.group,
    replaceGroup: (group: ClientState) => membership.replaceGroup(group),
    takeOwn: (ciphertext: string) => outbox.takeOwn(ciphertext),
    seen: createSeenCiphertexts(),
  }

  function self(): Self {
    const identityKey = ownIdentity().publicKeyText
    return { name, identityKey, personKey: links.at(-1)?.by ?? identityKey }
  }

  const devices = new DeviceDesk({
    name,
    identity: ownIdentity,
    send,
    connected: () => connection.open,
  })

  function askToLink(): boolean {
    askedToLink = options.linkDevice === true && links.length === 0
    return askedToLink
  }

  /**
   * Approved by a device of the name: the approvals go into every KeyPackage from now on. Taken
   * only when this device asked, and only if they verify: a server that sent approvals of its own
   * making would otherwise decide whom this device takes for its own person.
   */
  async function linked(approvals: readonly DeviceLink[]): Promise<void> {
    const ownKey = ownIdentity().publicKeyText
    const valid = approvals.length > 0 && (await personKeyOf(name, ownKey, approvals)) !== undefined
    if (!askedToLink || !valid) {
      hub.warn(
        'protocol',
        'the server sent device approvals this device did not ask for, or that do not verify; ignored',
      )
      return
    }
    askedToLink = false
    links = approvals
    const stored = await stores.identity.load()
    if (stored) await stores.identity.save({ ...stored, links: [...approvals] })
    hub.emit({ type: 'linked' })
  }

  async function forgetLinks(): Promise<void> {
    links = []
    const stored = await stores.identity.load()
    if (stored?.links) {
      const { links: _forgotten, ...rest } = stored
      await stores.identity.save(rest)
    }
  }

  async function receive(frame: ServerFrame): Promise<void> {
    switch (frame.type) {
      case 'link-waiting':
        hub.emit({
          type: 'link-code',
          code: linkCode(name, ownIdentity().publicKeyText, linkNonce),
          expiresAt: frame.expiresAt,
        })
        return
      case 'linked':
        return linked(frame.links)
      case 'link-device':
      case 'devices':
        return devices.receive(frame)
      case 'challenge': {
        const keys = ownIdentity()
        send({
          type: 'auth',
          signature: await signWithIdentity(keys, authMessage(frame.nonce, name)),
        })
        return
      }
      case 'ready': {
        // Admitted: approvals that come after this were not asked for by this connection.
        askedToLink = false
        roster.admitted(frame.members, frame.online, frame.next)
        reader.startAt(frame.head)
        maxFileBytes = frame.limits.maxFileBytes
        outbox.adopt(frame.limits)
        connection.admit()
        if (!(await membership.admitted(frame.group, frame.head))) return
        // Resuming: new messages wait until the missed log is read and the unacknowledged resent.
        outbox.catchUp()
        send({ type: 'resume', afterSeq: membership.position ?? frame.head })
        connection.setStatus('ready')
        membership.ready()
        return
      }
      case 'presence':
        return roster.presence(frame)
      case 'presences':
        for (const event of frame.events) roster.presence(event)
        roster.counted(frame.online, frame.events.length > 0)
        return
      case 'members':
        return roster.page(frame)
      case 'app':
      case 'commit':
        return reader.receive(frame)
      case 'welcome':
        return membership.welcome(frame)
      case 'found-request':
        return membership.found()
      case 'group-ended':
        return membership.groupEnded(frame.groupId)
      case 'commit-request':
        return membership.commitRequested(frame)
      case 'resumed':
        outbox.resend()
        outbox.caughtUp()
        return
      case 'error':
        return onError(frame)
      case 'pong':
        return
    }
  }

  async function onError(frame: Extract<ServerFrame, { type: 'error' }>): Promise<void> {
    const { code, message, fatal } = frame
    // Unlinked, its approvals are worth nothing: without them it may ask to be linked again.
    if (code === 'unlinked') await forgetLinks()
    // A device request's refusal is its own; one that may also be a message's goes on below.
    const messages = mayRefuseMessages(frame)
    if (!fatal && devices.refused(frame) && !messages) return
    if (COMMIT_NOT_TAKEN.has(code)) membership.commitRefused()
    const refusal = `the server refused it: ${message}`
    const failed = messages ? outbox.refused(refusal) : []
    if (code === 'rejoin_limited') {
      membership.rejoinLimited(() => void queue.run(() => membership.askToJoin()))
    }
    if (code === 'resume_gap' || code === 'resume_ahead') {
      outbox.caughtUp()
      await membership.drop('too far behind the room to catch up; rejoining as a newcomer')
      await membership.askToJoin()
      return
    }
    // 'replaced': this identity connected again from elsewhere; fighting over it would never end.
    const final = fatal && code !== 'going_away'
    if (final || refusesJoin(code))
      connection.refuse(new ChatError('refused', message, code), final)
    hub.emit({ type: 'error', code, message, fatal, ...(failed.length > 0 ? { failed } : {}) })
  }

  return {
    hub,
    trust,
    queue,
    connection,
    membership,
    outbox,
    roster,
    history,
    devices,
    self,
    loadIdentity,
    identityKey: () => identity?.publicKeyText ?? '',
    maxFileBytes: () => maxFileBytes,
    async roomCode() {
      const { group } = membership
      return group ? roomCode(epochAuthenticator(group)) : undefined
    },
    epoch: () => {
      const { group } = membership
      return group ? epochOf(group) : undefined
    },
  }
}
