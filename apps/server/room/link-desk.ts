// Linking a new device to a name: the new device waits, not admitted, while it shows its code; a
// device that holds the name finds it by that code, checks the code itself, and approves it with a
// signature; the store records the device. The devices waiting on this instance are held here;
// the board (link-board.ts) lists them for every instance.
import {
  approvalMessage,
  linkCode,
  normalizeLinkCode,
} from '../../../shared/crypto/device-links.ts'
import { verifyIdentitySignature } from '../../../shared/crypto/identity-key.ts'
import type { DeviceLink, ErrorCode, Member } from '../../../shared/protocol/frames.ts'
import { LINK_CODE_MS, MAX_DEVICES } from '../../../shared/protocol/limits.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { LinkBoard } from './link-board.ts'
import type { IdentityStore } from './ports.ts'

/** A new device waiting to be approved, as its session reaches it. */
export interface WaitingDevice {
  /** The name it asks for and the key it proved. */
  readonly member: Member
  /** Its nonce: the code it shows is `linkCode(name, key, nonce)`. */
  readonly nonce: string
  /** Where it connects from: one address cannot keep many devices waiting. */
  readonly address: string
  /** A device of the name approved it: it carries on into the room. */
  approved(links: readonly DeviceLink[]): void
  /** Its code ran out unused, or it could not be linked. */
  expired(): void
}

export type DeskRefusal = { readonly code: ErrorCode; readonly message: string }

/** A waiting device as an approver is shown it: enough to compute its code again. */
export interface FoundDevice {
  readonly member: Member
  readonly nonce: string
}

export interface LinkDesk {
  /** The device waits from now until its code runs out; the time it does. */
  wait(device: WaitingDevice): Promise<number | DeskRefusal>
  /** The device stopped waiting (its connection closed). */
  leave(device: WaitingDevice): void
  /** The device of `member`'s own name that shows the code typed, if one is waiting. */
  find(member: Member, typed: string): Promise<FoundDevice | DeskRefusal>
  /** `member` approves the waiting device with key `deviceKey` of its own name. */
  approve(member: Member, deviceKey: string, signature: string): Promise<DeskRefusal | undefined>
}

const NO_SUCH_CODE: DeskRefusal = {
  code: 'link_invalid',
  message: 'no new device of yours shows that code: it may be mistyped, used or expired',
}

export function createLinkDesk(options: {
  readonly identities: IdentityStore
  readonly board: LinkBoard
  readonly now: () => number
  readonly linkCodeMs?: number
  /** A write to the board failed where nobody waits for it: the server's own trouble. */
  readonly reportError?: (error: unknown) => void
}): LinkDesk {
  const { identities, board, now } = options
  const linkCodeMs = options.linkCodeMs ?? LINK_CODE_MS
  const reportError = options.reportError ?? (() => {})
  /** The devices waiting on this instance, by key, with the timer of each code. */
  const here = new Map<string, { device: WaitingDevice; timer: ReturnType<typeof setTimeout> }>()

  function release(key: string): WaitingDevice | undefined {
    const entry = here.get(key)
    if (!entry) return undefined
    clearTimeout(entry.timer)
    here.delete(key)
    return entry.device
  }

  board.watch((key, settlement) => {
    const device = release(key)
    if (!device) return
    if (settlement) device.approved(settlement)
    else device.expired()
  })

  const sameName = (a: string, b: string) => nameKey(a) === nameKey(b)

  return {
    async wait(device) {
      const { member, nonce } = device
      // Counted by address, not by name: whoever can connect could otherwise fill a name's share
      // and keep its owner from ever linking a device.
      const fromThere = [...here.values()].filter(
        (entry) => entry.device.address === device.address,
      )
      if (fromThere.length >= MAX_DEVICES) {
        return { code: 'device_refused', message: 'too many new devices wait from your address' }
      }
      // The same key waiting again (it reconnected): the old connection's wait is over.
      release(member.identityKey)?.expired()
      const expiresAt = now() + linkCodeMs
      const timer = setTimeout(() => {
        if (here.get(member.identityKey)?.device !== device) return
        here.delete(member.identityKey)
        Promise.resolve(board.withdraw(member.identityKey)).catch(reportError)
        device.expired()
      }, linkCodeMs)
      timer.unref?.()
      here.set(member.identityKey, { device, timer })
      const code = linkCode(member.name, member.identityKey, nonce)
      await board.post({ ...member, nonce, code, expiresAt })
      return expiresAt
    },
    leave(device) {
      const key = device.member.identityKey
      if (here.get(key)?.device !== device) return
      release(key)
      Promise.resolve(board.withdraw(key)).catch(reportError)
    },
    async find(member, typed) {
      const code = normalizeLinkCode(typed)
      if (!code) return NO_SUCH_CODE
      const posts = await board.find(code, now())
      const post = posts.find((found) => sameName(found.name, member.name))
      if (!post) return NO_SUCH_CODE
      return { member: { name: post.name, identityKey: post.identityKey }, nonce: post.nonce }
    },
    async approve(member, deviceKey, signature) {
      const message = approvalMessage(member.name, deviceKey)
      if (!(await verifyIdentitySignature(member.identityKey, signature, message))) {
        return { code: 'bad_signature', message: 'the approval is not signed with your key' }
      }
      // Single use: whoever takes the post first links the device.
      const post = await board.take(deviceKey, member.name, now())
      if (!post) return NO_SUCH_CODE
      const approval = { by: member.identityKey, signature }
      const result = await identities.linkDevice(member.name, deviceKey, approval, now())
      await board.settle(deviceKey, result.kind === 'linked' ? result.links : null)
      if (result.kind === 'linked') return undefined
      return { code: 'device_refused', message: REFUSALS[result.reason] }
    },
  }
}

const REFUSALS = {
  unbound: 'your name is no longer bound to your key',
  not_device: 'the server does not hold your key as a device of your name',
  limit: `a person may link at most ${MAX_DEVICES} devices; unlink one first`,
  taken: 'that key is already a device of a name',
} as const
