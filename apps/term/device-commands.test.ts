import { describe, expect, test } from 'bun:test'
import { ChatError, type DeviceView } from '../../shared/client/session.ts'
import { type CommandContext, parseCommand } from './commands.ts'
import { createShownDevices, pickDevice } from './device-commands.ts'
import { Refusal, renderNotice, type TermNotice } from './notices.ts'

/** Local times, so the rendered dates read the same in any time zone. */
const MARCH_1 = new Date(2025, 2, 1, 9, 5).getTime()
const MARCH_2 = new Date(2025, 2, 2, 18, 30).getTime()

const LAPTOP: DeviceView = {
  identityKey: 'laptop-key',
  fingerprint: 'aaaa 1111 2222 3333',
  linkedAt: MARCH_1,
  thisDevice: true,
  first: true,
}
const PHONE: DeviceView = {
  identityKey: 'phone-key',
  fingerprint: 'bbbb 4444 5555 6666',
  linkedAt: MARCH_2,
  thisDevice: false,
  first: false,
}
const TABLET: DeviceView = { ...PHONE, identityKey: 'tablet-key', fingerprint: 'bbbb 7777 8888' }

type DeviceSession = Pick<CommandContext['session'], 'approveDevice' | 'devices' | 'unlinkDevice'>

/** A context whose session answers the device requests as given, recording what was asked. */
function deviceContext(session: Partial<DeviceSession>) {
  const printed: string[] = []
  const notices: TermNotice[] = []
  const calls: string[] = []
  const unused = async (): Promise<never> => {
    throw new Error('not used by the device commands')
  }
  const context: CommandContext = {
    session: {
      name: 'alice',
      identityKey: 'laptop-key',
      personKey: 'laptop-key',
      sendFile: unused,
      members: unused,
      loadAllMembers: unused,
      safetyNumber: unused,
      markVerified: unused,
      acceptKey: unused,
      roomCode: unused,
      leave: unused,
      clearHistory: unused,
      approveDevice: unused,
      devices: async () => {
        calls.push('devices')
        return [LAPTOP, PHONE]
      },
      unlinkDevice: async (key) => {
        calls.push(`unlinkDevice ${key}`)
        return [LAPTOP]
      },
      ...session,
    },
    maxFileBytes: 1024,
    deliveries: { retry: unused },
    files: { save: () => ({ type: 'saved', file: 1, name: 'f', path: 'f' }) },
    shownDevices: createShownDevices(),
    print: (text) => printed.push(text),
    notify: (notice) => {
      notices.push(notice)
      printed.push(renderNotice(notice, { color: false }))
    },
    confirm: async () => false,
  }
  return { context, printed, notices, calls }
}

/** Runs a typed line's command; resolves with what it threw, if anything. */
async function run(context: CommandContext, line: string): Promise<unknown> {
  const parsed = parseCommand(line)
  if (parsed.kind !== 'command') throw new Error(`${line} is not a command`)
  return parsed.command.run(context, parsed.argument).then(
    () => undefined,
    (error: unknown) => error,
  )
}

const LIST = [
  '-- alice has 2 devices:',
  '--    1  aaaa 1111 2222 3333  linked 2025-03-01 09:05  (this device, first)',
  '--    2  bbbb 4444 5555 6666  linked 2025-03-02 18:30',
].join('\n')

describe('which device /unlink means', () => {
  const devices = [LAPTOP, PHONE, TABLET]

  test('a number is its place in the list, from 1', () => {
    expect(pickDevice(devices, '1')).toBe(LAPTOP)
    expect(pickDevice(devices, '3')).toBe(TABLET)
    for (const number of ['0', '4', '999']) {
      expect(() => pickDevice(devices, number)).toThrow(
        `there is no device ${number}; /devices lists them`,
      )
    }
  })

  test('a fingerprint, or the start of one, in any case and with or without spaces', () => {
    expect(pickDevice(devices, 'bbbb 4444 5555 6666')).toBe(PHONE)
    expect(pickDevice(devices, 'BBBB44')).toBe(PHONE)
    expect(pickDevice(devices, 'bb bb 77')).toBe(TABLET)
    expect(pickDevice(devices, 'aaaa')).toBe(LAPTOP)
  })

  test('refuses a start that fits two, fits none, is under 4 characters or is not hex', () => {
    const refused = (argument: string) => {
      try {
        pickDevice(devices, argument)
      } catch (error) {
        if (error instanceof Refusal) return [error.code, error.message]
      }
      return undefined
    }
    expect(refused('bbbb')).toEqual(['unknown_device', '2 devices match that; give more of it'])
    expect(refused('cccc')).toEqual([
      'unknown_device',
      'no device of yours has that fingerprint; see /devices',
    ])
    const which =
      'say which device by its number in /devices or by its fingerprint (4 or more of its characters)'
    expect(refused('aaa')).toEqual(['unknown_device', which])
    expect(refused('phone')).toEqual(['unknown_device', which])
  })
})

describe('the device commands', () => {
  test('/devices lists them numbered, with fingerprint, date and marks', async () => {
    const { context, printed, notices } = deviceContext({})
    expect(await run(context, '/devices')).toBeUndefined()
    expect(printed).toEqual([LIST])
    expect(notices[0]).toEqual({
      type: 'devices',
      name: 'alice',
      devices: [
        {
          number: 1,
          fingerprint: LAPTOP.fingerprint,
          linkedAt: MARCH_1,
          thisDevice: true,
          first: true,
        },
        {
          number: 2,
          fingerprint: PHONE.fingerprint,
          linkedAt: MARCH_2,
          thisDevice: false,
          first: false,
        },
      ],
    })
  })

  test('/link approves the code as typed and shows the devices after', async () => {
    const approved: string[] = []
    const { context, printed } = deviceContext({
      approveDevice: async (code) => {
        approved.push(code)
        return [LAPTOP, PHONE]
      },
    })
    expect(await run(context, '/link 7kq2 m9xd 4hrt')).toBeUndefined()
    expect(approved).toEqual(['7kq2 m9xd 4hrt'])
    expect(printed).toEqual([
      '-- the device that showed 7KQ2-M9XD-4HRT is linked: it reads and sends as alice',
      LIST,
    ])
  })

  test("/link says in words why nothing was linked, with the server's code for a script", async () => {
    const cases: [ChatError, string, string][] = [
      [
        new ChatError('refused', 'no new device of yours shows that code', 'link_invalid'),
        'link_invalid',
        'not linked: no new device of yours shows that code',
      ],
      [
        new ChatError('refused', 'alice has as many devices as one may', 'device_refused'),
        'device_refused',
        'not linked: alice has as many devices as one may',
      ],
      [new ChatError('link_code', 'a link code is …'), 'link_code', 'a link code is …'],
      [
        new ChatError('link_mismatch', 'the server offered another device'),
        'link_mismatch',
        'the server offered another device',
      ],
      [new ChatError('refused', 'slow down', 'rate_limited'), 'refused', 'not linked: slow down'],
    ]
    for (const [error, code, message] of cases) {
      const { context, printed } = deviceContext({ approveDevice: () => Promise.reject(error) })
      expect(await run(context, '/link AAAA-BBBB-CCCC')).toMatchObject({ code, message })
      expect(printed).toEqual([])
    }
  })

  test('/unlink N unlinks the device N of the list last shown, and shows the list after', async () => {
    const { context, printed, calls } = deviceContext({})
    await run(context, '/devices')
    // The list changed since: the number still means the device the user saw as 2.
    context.session.devices = async () => [LAPTOP, TABLET, PHONE]
    expect(await run(context, '/unlink 2')).toBeUndefined()
    expect(calls).toEqual(['devices', 'unlinkDevice phone-key'])
    expect(printed.slice(1)).toEqual([
      '-- device bbbb 4444 5555 6666 is unlinked: it is put out and refused as alice, and the next commit removes it from the group',
      [
        '-- alice has 1 device:',
        '--    1  aaaa 1111 2222 3333  linked 2025-03-01 09:05  (this device, first)',
      ].join('\n'),
    ])
  })

  test('/unlink with no list shown yet asks for one, and takes a fingerprint too', async () => {
    const { context, calls } = deviceContext({})
    expect(await run(context, '/unlink bbbb 44')).toBeUndefined()
    expect(calls).toEqual(['devices', 'unlinkDevice phone-key'])
  })

  test('/unlink refuses this device, pointing to /quit, and passes on the server refusing the first', async () => {
    const { context, calls } = deviceContext({})
    expect(await run(context, '/unlink 1')).toMatchObject({
      code: 'this_device',
      message:
        'that is this device: /quit leaves the room from here; unlink it from another of your devices',
    })
    expect(calls).toEqual(['devices'])

    const first = "a name's first device holds it and cannot be unlinked"
    const phone = deviceContext({
      devices: async () => [
        { ...LAPTOP, thisDevice: false },
        { ...PHONE, thisDevice: true },
      ],
      unlinkDevice: () => Promise.reject(new ChatError('refused', first, 'device_refused')),
    })
    expect(await run(phone.context, '/unlink 1')).toMatchObject({
      code: 'device_refused',
      message: `not unlinked: ${first}`,
    })
    expect(phone.printed).toEqual([])
  })
})
