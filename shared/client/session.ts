// The client engine both views share, as one facade: it offers the views the room (connect,
// send, trust, members, leave) over the engine's parts (engine.ts) and nothing of how they work;
// it knows nothing of terminals, pages or transports.
import { safetyNumber } from '../crypto/fingerprint.ts'
import { ChatError } from './chat-error.ts'
import type { DeviceView } from './devices.ts'
import { createEngine, type EngineOptions } from './engine.ts'
import type { ChatListener, ConnectionStatus } from './events.ts'
import type { ShownMessage } from './history.ts'
import { type MemberView, memberViews } from './member-views.ts'
import type { SentMessage } from './outbox.ts'
import { type FileToSend, filePayload, textPayload } from './outgoing.ts'
import type { KeyChange } from './trust-book.ts'

export {
  ChatError,
  type DeviceView,
  type FileToSend,
  type MemberView,
  type SentMessage,
  type ShownMessage,
}

export type ChatSessionOptions = EngineOptions

export interface ChatSession {
  readonly name: string
  readonly status: ConnectionStatus
  /** The identity key this client proves itself with (base64url). */
  readonly identityKey: string
  /**
   * This person's key: the one its first device holds the name with (this device's own key for a
   * first device); what peers trust and safety numbers cover. Empty until the identity is loaded.
   */
  readonly personKey: string
  /** Connects and joins; resolves once admitted to the room (the group may follow). */
  connect(): Promise<void>
  /** Resolves once this client is in the MLS group and can send. */
  whenReady(): Promise<void>
  sendText(text: string): Promise<SentMessage>
  /** `.txt` only; over the size limit it throws `file_too_large` unless `truncate` is set. */
  sendFile(file: FileToSend, options?: { truncate?: boolean }): Promise<SentMessage>
  /** Sends a message whose `delivery` event said `failed` again; throws `unknown_message` else. */
  retry(id: string): Promise<SentMessage>
  /** The largest file the server takes whole: its own limit once admitted (`ready`). */
  maxFileBytes(): number
  /** The safety number to compare with `name` out of band. */
  safetyNumber(name: string): Promise<string>
  markVerified(name: string): Promise<void>
  /** Accepts a changed key for `name`; sending resumes once no change is pending. */
  acceptKey(name: string): Promise<void>
  pendingKeyChanges(): KeyChange[]
  /** Own messages sent but not yet seen in the room's log (failed ones included). */
  unacknowledged(): number
  /** Resolves once everything sent so far is seen in the room's log, or failed. */
  settled(): Promise<void>
  /** Everyone in the group, and everyone online this client knows of (see loadAllMembers). */
  members(): Promise<MemberView[]>
  /** How many are online now, as the server counts them, this client included. */
  onlineCount(): number
  /** Whether members() lists everyone online; in a large room only once loadAllMembers is done. */
  allMembersListed(): boolean
  /** Asks the server for the rest of a large room's online list, a page at a time. */
  loadAllMembers(): Promise<void>
  /** 12 digits everyone in this epoch of the group shares; undefined outside a group. */
  roomCode(): Promise<string | undefined>
  epoch(): number | undefined
  /** Leaves the room and the group for good (`/quit`). */
  leave(): Promise<void>
  /** Drops the connection without leaving; the state is kept for a later resume. */
  close(): Promise<void>
  on(listener: ChatListener): () => void
  /**
   * What earlier sessions on this device showed (within the history limits), oldest first, for
   * the view to draw before the live timeline; the same list each call, empty once cleared.
   */
  history(): Promise<ShownMessage[]>
  /** Forgets the history kept on this device; resolves with how many messages it held. */
  clearHistory(): Promise<number>
  /**
   * Approves the new device of this name that shows `code` (`/link CODE`, "Link a device"): it
   * becomes another device of this person. Resolves with the devices after.
   */
  approveDevice(code: string): Promise<DeviceView[]>
  /** This person's devices, this one marked. */
  devices(): Promise<DeviceView[]>
  /** Unlinks one of this person's devices: refused from now on, its leaf removed. */
  unlinkDevice(identityKey: string): Promise<DeviceView[]>
}

export function createChatSession(options: ChatSessionOptions): ChatSession {
  const engine = createEngine(options)
  const { connection, membership, outbox, trust, queue, name } = { ...engine, name: options.name }
  return {
    name,
    get status() {
      return connection.status
    },
    get identityKey() {
      return engine.identityKey()
    },
    get personKey() {
      return engine.identityKey() === '' ? '' : engine.self().personKey
    },
    connect: () => connection.start(),
    whenReady: () => membership.whenMember(),
    async sendText(text) {
      return outbox.send(textPayload(text))
    },
    async sendFile(file, sendOptions = {}) {
      const payload = await filePayload(file, engine.maxFileBytes(), sendOptions.truncate ?? false)
      return outbox.send(payload)
    },
    async safetyNumber(peer) {
      const record = await trust.get(peer)
      if (!record) throw new ChatError('unknown_member', `no key known for ${peer}`)
      await engine.loadIdentity()
      // Person keys on both sides: the number is the same from every device of either person.
      return safetyNumber({ name, identityKey: engine.self().personKey }, record)
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
      if (trust.pendingChanges().length === 0) await queue.run(() => membership.keysAccepted())
    },
    pendingKeyChanges: () => trust.pendingChanges(),
    retry: (id) => outbox.retry(id),
    maxFileBytes: () => engine.maxFileBytes(),
    unacknowledged: () => outbox.unacknowledged,
    settled: () => outbox.settled(),
    members: () => memberViews(engine.self(), membership.group, engine.roster.online, trust),
    onlineCount: () => engine.roster.size,
    allMembersListed: () => engine.roster.complete,
    loadAllMembers: () => engine.roster.loadAll(),
    roomCode: () => engine.roomCode(),
    epoch: () => engine.epoch(),
    async leave() {
      connection.stop()
      await queue.idle()
      connection.send({ type: 'leave' })
      // Said before the server's close arrives, so that close is not reported as a loss.
      connection.setStatus('closed', 'left the room')
      // The committer removes this leaf: what is kept would only be a stale copy.
      await membership.drop('')
      membership.stop()
      connection.closeTransport()
      // Messages shown last, and what is still on its way, are still being written to the device.
      await engine.history.idle()
      await outbox.kept()
    },
    async close() {
      connection.stop()
      await queue.idle()
      await membership.save()
      membership.stop()
      connection.closeTransport()
      connection.setStatus('closed', 'closed')
      await engine.history.idle()
      await outbox.kept()
    },
    on: (listener) => engine.hub.on(listener),
    history: () => engine.history.earlier(),
    clearHistory: () => engine.history.clear(),
    approveDevice: (code) => engine.devices.approve(code),
    devices: () => engine.devices.list(),
    unlinkDevice: (identityKey) => engine.devices.unlink(identityKey),
  }
}
