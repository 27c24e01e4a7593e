// A member's frames about its own devices: finding a new device by the code it shows, approving
// it, listing its name's devices, unlinking one. Answers with the frame to send back.
import {
  type ClientFrame,
  errorFrame,
  type Member,
  type ServerFrame,
} from '../../../shared/protocol/frames.ts'
import type { LinkDesk } from './link-desk.ts'
import type { DeliveryService, IdentityStore } from './ports.ts'

export type DeviceFrame = Extract<
  ClientFrame,
  { type: 'link-find' | 'link-approve' | 'devices' | 'unlink' }
>

export interface DeviceHost {
  readonly links: LinkDesk
  readonly identities: IdentityStore
  readonly delivery: Pick<DeliveryService, 'unlinkDevice'>
}

type Answer = Extract<ServerFrame, { type: 'link-device' | 'devices' | 'error' }>

export async function deviceFrame(
  host: DeviceHost,
  member: Member,
  frame: DeviceFrame,
): Promise<Answer> {
  switch (frame.type) {
    case 'link-find': {
      const found = await host.links.find(member, frame.code)
      if ('code' in found) return errorFrame(found.code, found.message, false)
      const { name, identityKey } = found.member
      return { type: 'link-device', name, identityKey, nonce: found.nonce }
    }
    case 'link-approve': {
      const refused = await host.links.approve(member, frame.identityKey, frame.signature)
      return refused ? errorFrame(refused.code, refused.message, false) : devicesOf(host, member)
    }
    case 'devices':
      return devicesOf(host, member)
    case 'unlink': {
      const devices = await host.identities.devices(member.name)
      if (devices[0]?.identityKey === frame.identityKey) {
        const message =
          "a name's first device holds it and cannot be unlinked; the admin can release the name"
        return errorFrame('device_refused', message, false)
      }
      // What it approved goes with it: its approvals are what made those devices this person's.
      const approved = devices
        .filter((device) => device.links.some((link) => link.by === frame.identityKey))
        .map((device) => device.identityKey)
      if (approved.includes(member.identityKey)) {
        const message = 'that device approved this one: unlink it from a device it did not approve'
        return errorFrame('device_refused', message, false)
      }
      if (!(await host.identities.unlinkDevice(member.name, frame.identityKey))) {
        return errorFrame('device_refused', 'that key is not a device of yours', false)
      }
      for (const key of approved) await host.identities.unlinkDevice(member.name, key)
      for (const key of [frame.identityKey, ...approved]) {
        await host.delivery.unlinkDevice({ name: member.name, identityKey: key })
      }
      return devicesOf(host, member)
    }
  }
}

/** The member's name's devices, if the member is still one of them. */
async function devicesOf(host: DeviceHost, member: Member): Promise<Answer> {
  const devices = await host.identities.devices(member.name)
  if (!devices.some((device) => device.identityKey === member.identityKey)) {
    return errorFrame('device_refused', 'this key is no longer a device of your name', false)
  }
  return {
    type: 'devices',
    devices: devices.map((device) => ({ ...device, links: [...device.links] })),
  }
}
