// Reads one application message from the log: our own comes back as the acknowledgement of what
// we sent; anyone else's is decrypted, its payload checked, and shown with the sender MLS
// authenticated (and the server's claim beside it when the two differ). An exact copy of a
// ciphertext already read is no new message and is passed over. No sockets or storage.
import { decodeBase64url } from '../protocol/base64url.ts'
import type { ServerFrame } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { EventHub } from './event-hub.ts'
import { checkTextFile } from './files.ts'
import { type ClientState, decryptMessage } from './mls.ts'
import type { OwnEcho } from './outbox.ts'
import { decodePayload, fileDigestMatches, type Payload } from './payload.ts'
import { digestOf, type SeenCiphertexts } from './seen-ciphertexts.ts'

type AppFrame = Extract<ServerFrame, { type: 'app' }>

export interface MessageReaderContext {
  readonly name: string
  readonly hub: EventHub
  readonly maxFileBytes: () => number
  readonly group: () => ClientState | undefined
  replaceGroup(group: ClientState): void
  /** Our own message with this ciphertext, if it was waiting to be seen in the log. */
  takeOwn(ciphertext: string): OwnEcho | undefined
  /** Ciphertexts read lately (ours taken back, others decrypted), to pass over their copies. */
  readonly seen: SeenCiphertexts
}

export async function readMessage(frame: AppFrame, context: MessageReaderContext): Promise<void> {
  const { seq, at, from, ciphertext } = frame
  const { hub, name, seen } = context
  // A copy (a resend after a failover, or a replay) cannot be decrypted again: its key is used up.
  const digest = digestOf(ciphertext)
  if (seen.has(digest)) return
  const own = context.takeOwn(ciphertext)
  if (own) seen.add(digest)
  if (own?.kind === 'again') return
  if (own) {
    showPayload(hub, own.payload, { seq, at, from: name, own: true })
    hub.emit(own.sent)
    return
  }
  const group = context.group()
  if (!group) return
  let decrypted: Awaited<ReturnType<typeof decryptMessage>>
  try {
    decrypted = await decryptMessage(group, decodeBase64url(ciphertext))
  } catch (error) {
    const reason = (error as Error).message
    hub.warn(
      'undecryptable',
      `message #${seq} (said to be from ${from}) could not be read: ${reason}`,
    )
    return
  }
  // Remembered once decrypted, even if refused below: a copy could only fail to decrypt. What
  // failed to decrypt is not remembered: each copy of it is reported.
  seen.add(digest)
  context.replaceGroup(decrypted.state)
  const sender = decrypted.sender.name
  const decoded = decodePayload(decrypted.plaintext)
  if (!decoded.ok) {
    hub.warn('bad_payload', `message #${seq} from ${sender}: ${decoded.reason}`)
    return
  }
  const claimedBy = nameKey(from) === nameKey(sender) ? undefined : from
  if (claimedBy) {
    hub.warn(
      'sender_mismatch',
      `the server says message #${seq} is from ${from}, but ${sender} wrote it`,
    )
  }
  const { payload } = decoded
  if (payload.kind === 'file') {
    const problem = await fileProblem(payload, context.maxFileBytes())
    if (problem) {
      hub.warn('bad_file', `a file from ${sender} was refused: ${problem}`)
      return
    }
  }
  // Sent from another device of this person: its leaf is under our name, and only devices our
  // person approved hold such a leaf (person-keys.ts), so it is ours.
  const fromOwnDevice = nameKey(sender) === nameKey(context.name)
  const whose = fromOwnDevice ? { own: true, otherDevice: true as const } : { own: false }
  showPayload(hub, payload, { seq, at, from: sender, ...whose, claimedBy })
}

async function fileProblem(
  payload: Extract<Payload, { kind: 'file' }>,
  maxFileBytes: number,
): Promise<string | undefined> {
  if (!(await fileDigestMatches(payload))) return 'its checksum does not match'
  if (!payload.truncated && payload.bytes.length !== payload.size)
    return 'its declared size is wrong'
  const check = checkTextFile(payload.name, payload.bytes, maxFileBytes)
  return check.ok ? undefined : check.message
}

function showPayload(
  hub: EventHub,
  payload: Payload,
  meta: {
    seq: number
    at: number
    from: string
    own: boolean
    otherDevice?: true
    claimedBy?: string
  },
): void {
  if (payload.kind === 'text') {
    hub.emit({ type: 'message', id: payload.id, text: payload.text, ...meta })
    return
  }
  const { id, name, size, truncated, sha256, bytes } = payload
  hub.emit({ type: 'file', id, name, size, truncated, sha256, bytes, ...meta })
}
