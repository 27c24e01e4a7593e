// The frames of linking one person's devices, as valibot schemas (frames.ts gathers them with the
// rest): a new device waits, a device of the name finds and approves it, devices are listed and
// unlinked. How approvals are signed and carried is shared/crypto/device-links.ts.
import * as v from 'valibot'
import { Base64url, BoundName, IdentityKey, Signature, Timestamp } from './fields.ts'
import { MAX_DEVICES } from './limits.ts'

/** A link code as a new device shows it (shared/crypto/device-links.ts), or as typed: ≤ 40 chars. */
const LinkCodeText = v.pipe(v.string(), v.minLength(1), v.maxLength(40))

/**
 * One approval of a linked device: the device with key `by` signed that the key below it is
 * another device of the same name (shared/crypto/device-links.ts).
 */
export const DeviceLinkSchema = v.object({ by: IdentityKey, signature: Signature })
export type DeviceLink = v.InferOutput<typeof DeviceLinkSchema>
export const DeviceLinksSchema = v.pipe(v.array(DeviceLinkSchema), v.maxLength(MAX_DEVICES))

// ---- client → server -------------------------------------------------------------------

/** A member asks for the new device of its own name that shows this code (`/link CODE`). */
export const LinkFindFrameSchema = v.object({ type: v.literal('link-find'), code: LinkCodeText })

/**
 * A member approves a new device of its own name: its signature over
 * `approvalMessage(name, identityKey)`, made once the code it computed matched the one typed.
 */
export const LinkApproveFrameSchema = v.object({
  type: v.literal('link-approve'),
  identityKey: IdentityKey,
  signature: Signature,
})

/** A member asks for its name's devices (`/devices`). */
export const DevicesAskFrameSchema = v.object({ type: v.literal('devices') })

/** A member unlinks one of its name's devices: refused from then on, its leaf removed. */
export const UnlinkFrameSchema = v.object({ type: v.literal('unlink'), identityKey: IdentityKey })

// ---- server → client -------------------------------------------------------------------

/** To a new device that asked to be linked: it waits for approval until `expiresAt`. */
export const LinkWaitingFrameSchema = v.object({
  type: v.literal('link-waiting'),
  expiresAt: Timestamp,
})

/**
 * To the member that asked (`link-find`): the waiting device's key and nonce, from which it
 * computes the code again and compares it with the one typed before it approves anything.
 */
export const LinkDeviceFrameSchema = v.object({
  type: v.literal('link-device'),
  name: BoundName,
  identityKey: IdentityKey,
  nonce: v.pipe(Base64url, v.length(22)),
})

/** To a new device once approved: its approvals, for its credential. `ready` follows. */
export const LinkedFrameSchema = v.object({ type: v.literal('linked'), links: DeviceLinksSchema })

/** A name's devices as the server records them: its own key first, then each linked one. */
export const DevicesFrameSchema = v.object({
  type: v.literal('devices'),
  devices: v.pipe(
    v.array(v.object({ identityKey: IdentityKey, links: DeviceLinksSchema, linkedAt: Timestamp })),
    v.maxLength(MAX_DEVICES),
  ),
})
