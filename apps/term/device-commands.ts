// The commands for one person's devices: /link approves a new one by the code it shows, /devices
// lists them numbered, /unlink takes one off by that number or its fingerprint. The session does
// the work (shared/client/devices.ts); this decides what was meant and says how it went.
import { ChatError, type DeviceView } from '../../shared/client/session.ts'
import { normalizeLinkCode } from '../../shared/crypto/device-links.ts'
import type { CommandContext, CommandSpec } from './commands.ts'
import { Refusal, type RefusalCode } from './notices.ts'

/** The last device list the user was shown: the numbers /unlink N takes are its numbers. */
export interface ShownDevices {
  last(): readonly DeviceView[] | undefined
  remember(devices: readonly DeviceView[]): void
}

export function createShownDevices(): ShownDevices {
  let shown: readonly DeviceView[] | undefined
  return {
    last: () => shown,
    remember(devices) {
      shown = devices
    },
  }
}

/** The server's refusals of a device request that a script may want to tell apart. */
const SERVER_REFUSALS = new Set<string>(['link_invalid', 'device_refused'])

/** A ChatError from the engine as a Refusal that says what was not done; anything else as is. */
function deviceRefusal(error: unknown, notDone: string): unknown {
  if (!(error instanceof ChatError)) return error
  if (error.code === 'link_code') return new Refusal('link_code', error.message)
  if (error.code === 'link_mismatch') return new Refusal('link_mismatch', error.message)
  if (error.code !== 'refused') return error
  const code: RefusalCode =
    error.serverCode && SERVER_REFUSALS.has(error.serverCode)
      ? (error.serverCode as RefusalCode)
      : 'refused'
  return new Refusal(code, `${notDone}: ${error.message}`)
}

function show(context: CommandContext, devices: readonly DeviceView[]): void {
  context.shownDevices.remember(devices)
  context.notify({
    type: 'devices',
    name: context.session.name,
    devices: devices.map((device, index) => ({
      number: index + 1,
      fingerprint: device.fingerprint,
      linkedAt: device.linkedAt,
      thisDevice: device.thisDevice,
      first: device.first,
    })),
  })
}

const WHICH =
  'say which device by its number in /devices or by its fingerprint (4 or more of its characters)'

/**
 * The device meant by `argument`: a number from the list, or a fingerprint or the start of one,
 * spaces and case ignored. Throws a Refusal when it names none, or more than one.
 */
export function pickDevice(devices: readonly DeviceView[], argument: string): DeviceView {
  if (/^\d{1,3}$/.test(argument)) {
    const device = devices[Number(argument) - 1]
    if (!device) {
      throw new Refusal('unknown_device', `there is no device ${argument}; /devices lists them`)
    }
    return device
  }
  const typed = argument.replace(/\s+/g, '').toLowerCase()
  if (!/^[0-9a-f]{4,}$/.test(typed)) throw new Refusal('unknown_device', WHICH)
  const matches = devices.filter((device) =>
    device.fingerprint.replace(/\s+/g, '').toLowerCase().startsWith(typed),
  )
  if (matches.length > 1) {
    throw new Refusal('unknown_device', `${matches.length} devices match that; give more of it`)
  }
  const [device] = matches
  if (!device) {
    throw new Refusal('unknown_device', 'no device of yours has that fingerprint; see /devices')
  }
  return device
}

async function link(context: CommandContext, typed: string): Promise<undefined> {
  let devices: DeviceView[]
  try {
    devices = await context.session.approveDevice(typed)
  } catch (error) {
    throw deviceRefusal(error, 'not linked')
  }
  const code = normalizeLinkCode(typed) ?? typed
  context.notify({ type: 'device-linked', name: context.session.name, code })
  show(context, devices)
}

async function list(context: CommandContext): Promise<undefined> {
  show(context, await context.session.devices())
}

async function unlink(context: CommandContext, argument: string): Promise<undefined> {
  const { session } = context
  // Numbers are those of the list the user last saw, not of one that may have changed since.
  const device = pickDevice(context.shownDevices.last() ?? (await session.devices()), argument)
  if (device.thisDevice) {
    throw new Refusal(
      'this_device',
      'that is this device: /quit leaves the room from here; unlink it from another of your devices',
    )
  }
  let devices: DeviceView[]
  try {
    devices = await session.unlinkDevice(device.identityKey)
  } catch (error) {
    throw deviceRefusal(error, 'not unlinked')
  }
  context.notify({ type: 'device-unlinked', name: session.name, fingerprint: device.fingerprint })
  show(context, devices)
}

export const DEVICE_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'devices',
    help: 'your devices, numbered, with their fingerprints',
    run: list,
  },
  {
    name: 'link',
    argument: 'CODE',
    help: 'link your new device that shows CODE (started with --link-device)',
    run: link,
  },
  {
    name: 'unlink',
    argument: 'DEVICE',
    help: 'unlink one of your devices: its number in /devices, or its fingerprint',
    run: unlink,
  },
]
