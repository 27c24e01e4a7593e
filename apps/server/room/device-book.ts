// What every identity store decides alike when a device is linked: whether the approver is one of
// the name's devices, whether the name has room for another, and the new device's links. Pure.
import type { DeviceLink } from '../../../shared/protocol/frames.ts'
import { MAX_DEVICES } from '../../../shared/protocol/limits.ts'
import type { DeviceRecord, LinkResult } from './ports.ts'

/**
 * The links of a device approved by `approval.by`: that approval, then the approver's own links up
 * to `firstKey`, the key the name is bound to. `linked` are the name's other devices.
 */
export function deviceLinks(
  firstKey: string,
  linked: readonly DeviceRecord[],
  approval: DeviceLink,
): LinkResult {
  if (linked.length + 1 >= MAX_DEVICES) return { kind: 'refused', reason: 'limit' }
  if (approval.by === firstKey) return { kind: 'linked', links: [approval] }
  const approver = linked.find((device) => device.identityKey === approval.by)
  if (!approver) return { kind: 'refused', reason: 'not_device' }
  return { kind: 'linked', links: [approval, ...approver.links] }
}
