import { describe, expect, test } from 'bun:test'
import type { MemberView } from '../../shared/client/member-views.ts'
import { keyFingerprint } from '../../shared/crypto/fingerprint.ts'
import { createIdentityKeyPair } from '../../shared/crypto/identity-key.ts'
import {
  COMMANDS,
  type CommandContext,
  type CommandSpec,
  createCommandRegistry,
  type ParsedLine,
  parseCommand,
} from './commands.ts'
import { createShownDevices } from './device-commands.ts'
import { Refusal, renderNotice, type TermNotice } from './notices.ts'

const own = await createIdentityKeyPair()

/** A context that records what a command printed and which session calls it made. */
function fakeContext(answer = false, members: MemberView[] = [], personKey = own.publicKeyText) {
  const printed: string[] = []
  const notices: TermNotice[] = []
  const calls: string[] = []
  const context: CommandContext = {
    session: {
      name: 'alice',
      identityKey: own.publicKeyText,
      personKey,
      sendFile: async () => ({ id: 'm1' }),
      members: async () => members,
      loadAllMembers: async () => {
        calls.push('loadAllMembers')
      },
      safetyNumber: async (name) => `number with ${name}`,
      markVerified: async (name) => {
        calls.push(`markVerified ${name}`)
      },
      acceptKey: async (name) => {
        calls.push(`acceptKey ${name}`)
      },
      roomCode: async () => undefined,
      leave: async () => {
        calls.push('leave')
      },
      clearHistory: async () => {
        calls.push('clearHistory')
        return 12
      },
      approveDevice: async (code) => {
        calls.push(`approveDevice ${code}`)
        return []
      },
      devices: async () => [],
      unlinkDevice: async (key) => {
        calls.push(`unlinkDevice ${key}`)
        return []
      },
    },
    maxFileBytes: 1024,
    deliveries: {
      retry: async (number) => {
        calls.push(`retry ${number}`)
      },
    },
    files: {
      save: (number) => {
        calls.push(`save ${number}`)
        return { type: 'saved', file: number, name: 'f.txt', path: `/d/f (${number}).txt` }
      },
    },
    shownDevices: createShownDevices(),
    print: (text) => printed.push(text),
    notify: (notice) => {
      notices.push(notice)
      printed.push(renderNotice(notice, { color: false }))
    },
    confirm: async () => answer,
  }
  return { context, printed, notices, calls }
}

function commandOf(line: string): CommandSpec {
  const parsed = parseCommand(line)
  if (parsed.kind !== 'command') throw new Error(`${line} is not a command: ${parsed.kind}`)
  return parsed.command
}

describe('parsing a typed line', () => {
  test('plain lines are messages, // sends a literal slash', () => {
    expect(parseCommand('hello')).toEqual({ kind: 'message', text: 'hello' })
    expect(parseCommand('//etc is a path')).toEqual({ kind: 'message', text: '/etc is a path' })
  })

  test('every registered command parses by its name, in any case, with its argument', () => {
    for (const command of COMMANDS.commands) {
      const line = `/${command.name.toUpperCase()}${command.argument ? ' my notes.txt ' : ''}`
      expect(parseCommand(line)).toEqual({
        kind: 'command',
        command,
        argument: command.argument ? 'my notes.txt' : '',
      })
    }
  })

  test('an alias runs the same command as its name', () => {
    expect(commandOf('/exit')).toBe(commandOf('/quit'))
    expect(commandOf('/EXIT').name).toBe('quit')
  })

  test('a missing argument names what the command needs, as typed', () => {
    const missing = (problem: string): ParsedLine => ({
      kind: 'invalid',
      code: 'missing_argument',
      problem,
    })
    expect(parseCommand('/file')).toEqual(missing('/file needs a PATH'))
    expect(parseCommand('/Verify   ')).toEqual(missing('/Verify needs a NAME'))
    expect(parseCommand('/trust')).toEqual(missing('/trust needs a NAME'))
  })

  test('an unknown command points to /help', () => {
    expect(parseCommand('/dance')).toEqual({
      kind: 'invalid',
      code: 'unknown_command',
      problem: 'unknown command /dance; /help lists them',
    })
    expect(parseCommand('/')).toEqual({
      kind: 'invalid',
      code: 'unknown_command',
      problem: 'unknown command /; /help lists them',
    })
  })
})

describe('the registry', () => {
  test('the help lists every registered command with its argument and help, one per line', () => {
    const lines = COMMANDS.help().split('\n')
    expect(lines).toHaveLength(COMMANDS.commands.length + 1)
    for (const [index, command] of COMMANDS.commands.entries()) {
      const usage = `/${command.name}${command.argument ? ` ${command.argument}` : ''}`
      expect(lines[index]).toMatch(new RegExp(`^${usage} +${RegExp.escape(command.help)}$`))
    }
    expect(lines.at(-1)).toMatch(/^\/\/text +send a message that starts with \/$/)
  })

  test('the help reads as it always has, its columns aligned', () => {
    expect(COMMANDS.help()).toBe(
      [
        '/help              this list',
        '/who               who is here, with key fingerprints and verified marks',
        '/file PATH         send a .txt file',
        '/save N            save received file N, which the save quota held back',
        '/retry N           send your message N again, which a "not sent" line numbered',
        '/verify NAME       show the safety number to compare with NAME (then mark them verified)',
        '/trust NAME        accept the changed key of NAME',
        '/devices           your devices, numbered, with their fingerprints',
        '/link CODE         link your new device that shows CODE (started with --link-device)',
        '/unlink DEVICE     unlink one of your devices: its number in /devices, or its fingerprint',
        '/room              the room code: everyone in the group sees the same one',
        '/clear-history     forget the messages this device keeps (others keep theirs)',
        '/quit              leave the room (Ctrl-C and Ctrl-D do too)',
        '//text             send a message that starts with /',
      ].join('\n'),
    )
  })

  test('a command added to a registry appears in its help and parses', () => {
    const dance: CommandSpec = { name: 'dance', help: 'dance a little', run: async () => undefined }
    const registry = createCommandRegistry([...COMMANDS.commands, dance])
    expect(registry.help()).toMatch(/^\/dance +dance a little$/m)
    expect(registry.parse('/dance')).toEqual({ kind: 'command', command: dance, argument: '' })
  })

  test('a word registered twice is refused, aliases included', () => {
    const run = async () => undefined
    expect(() =>
      createCommandRegistry([
        { name: 'quit', help: 'leave', run },
        { name: 'leave', aliases: ['QUIT'], help: 'leave too', run },
      ]),
    ).toThrow('the command word /quit is registered twice')
  })
})

describe('running commands', () => {
  test('/help prints the generated list as it is', async () => {
    const { context, printed } = fakeContext()
    expect(await commandOf('/help').run(context, '')).toBeUndefined()
    expect(printed).toEqual([COMMANDS.help()])
  })

  test('/clear-history forgets the history on this device and says how much', async () => {
    const { context, printed, calls } = fakeContext()
    expect(await commandOf('/clear-history').run(context, '')).toBeUndefined()
    expect(calls).toEqual(['clearHistory'])
    expect(printed).toEqual(['-- history on this device cleared: 12 message(s) forgotten'])
  })

  test('/quit and /exit leave the room and end the chat', async () => {
    for (const line of ['/quit', '/exit']) {
      const { context, calls } = fakeContext()
      expect(await commandOf(line).run(context, '')).toBe('quit')
      expect(calls).toEqual(['leave'])
    }
  })

  test('/trust accepts the key and says so; /room says when there is no code yet', async () => {
    const { context, printed, calls } = fakeContext()
    await commandOf('/trust bob').run(context, 'bob')
    await commandOf('/room').run(context, '')
    expect(calls).toEqual(['acceptKey bob'])
    expect(printed).toEqual([
      '-- the new key of bob is accepted; sending resumes',
      '-- room code: none yet (not in the group)',
    ])
  })

  test('/save saves the held file by its number, and refuses a number it cannot take', async () => {
    const { context, printed, calls } = fakeContext()
    await commandOf('/save 3').run(context, '3')
    const refusal = await commandOf('/save three')
      .run(context, 'three')
      .catch((error: unknown) => error)
    expect(calls).toEqual(['save 3'])
    expect(printed).toEqual(['-- saved to /d/f (3).txt'])
    expect(refusal).toBeInstanceOf(Refusal)
    expect(refusal).toMatchObject({
      code: 'bad_number',
      message: '/save takes the number a "not saved" notice gave, e.g. /save 3',
    })
  })

  test('/who shows a name with escapes and a newline on one line, as text', async () => {
    const { context, printed } = fakeContext(false, [
      {
        name: 'eve\x1b[2J\n06:04 SYSTEM: hi',
        identityKey: 'k',
        fingerprint: 'ab cd',
        online: true,
        inGroup: false,
        verified: false,
        keyChanged: false,
        devices: [{ identityKey: 'k', fingerprint: 'ab cd', online: true, inGroup: false }],
      },
    ])
    await commandOf('/who').run(context, '')
    expect(printed).toEqual([
      '-- eve\\x1b[2J\\n06:04 SYSTEM: hi  ab cd  (online, not in group, not verified)',
    ])
  })

  test('/who marks yourself as you, not as verified, and gives every mark as a field', async () => {
    const you: MemberView = {
      name: 'Alice',
      identityKey: own.publicKeyText,
      fingerprint: 'ab cd',
      online: true,
      inGroup: true,
      verified: true,
      keyChanged: false,
      devices: [
        { identityKey: own.publicKeyText, fingerprint: 'ab cd', online: true, inGroup: true },
      ],
    }
    const bob = {
      ...you,
      name: 'bob',
      fingerprint: 'ef 01',
      verified: true,
      devices: [{ identityKey: 'b', fingerprint: 'ef 01', online: true, inGroup: true }],
    }
    const { context, printed, notices } = fakeContext(false, [bob, you])
    await commandOf('/who').run(context, '')
    expect(printed).toEqual([
      '-- Alice  ab cd  (you, online, in group)\n-- bob  ef 01  (online, in group, verified ✓)',
    ])
    expect(notices).toEqual([
      {
        type: 'who',
        members: [
          {
            name: 'Alice',
            fingerprint: 'ab cd',
            you: true,
            online: true,
            inGroup: true,
            verified: true,
            keyChanged: false,
          },
          {
            name: 'bob',
            fingerprint: 'ef 01',
            you: false,
            online: true,
            inGroup: true,
            verified: true,
            keyChanged: false,
          },
        ],
      },
    ])
  })

  test('/who lists a person once, with each device below it when there are several', async () => {
    const alice: MemberView = {
      name: 'alice',
      identityKey: 'first',
      fingerprint: '1111 2222',
      online: true,
      inGroup: true,
      verified: true,
      keyChanged: false,
      devices: [
        { identityKey: 'first', fingerprint: '1111 2222', online: false, inGroup: true },
        { identityKey: own.publicKeyText, fingerprint: '3333 4444', online: true, inGroup: true },
        { identityKey: 'new', fingerprint: '5555 6666', online: true, inGroup: false },
      ],
    }
    const { context, printed, notices } = fakeContext(false, [alice])
    await commandOf('/who').run(context, '')
    // As fields too; a person on one device has no `devices` (the test above): it adds nothing.
    expect(notices).toMatchObject([
      {
        type: 'who',
        members: [
          {
            fingerprint: '1111 2222',
            devices: [
              { fingerprint: '1111 2222', thisDevice: false, online: false, inGroup: true },
              { fingerprint: '3333 4444', thisDevice: true, online: true, inGroup: true },
              { fingerprint: '5555 6666', thisDevice: false, online: true, inGroup: false },
            ],
          },
        ],
      },
    ])
    expect(printed).toEqual([
      [
        '-- alice  1111 2222  (you, online, in group)',
        '--    device 1111 2222  (away, in group)',
        '--    device 3333 4444  (this device, online, in group)',
        '--    device 5555 6666  (online, not in group)',
      ].join('\n'),
    ])
  })

  test('/verify of yourself on a linked device shows the key the others see, not its own', async () => {
    const first = await createIdentityKeyPair()
    const { context, printed, calls } = fakeContext(true, [], first.publicKeyText)
    await commandOf('/verify alice').run(context, 'alice')
    expect(printed).toEqual([
      `-- alice is you; your key's fingerprint is ${await keyFingerprint(first.publicKeyText)} ` +
        '(the others see it in /who)',
    ])
    expect(calls).toEqual([])
  })

  test('/verify of yourself shows your own fingerprint and asks nothing', async () => {
    const { context, printed, calls } = fakeContext(true)
    await commandOf('/verify ALICE').run(context, 'ALICE')
    expect(printed).toEqual([
      `-- alice is you; your key's fingerprint is ${await keyFingerprint(own.publicKeyText)} ` +
        '(the others see it in /who)',
    ])
    expect(calls).toEqual([])
  })

  test('/verify marks the member verified only when the user says the numbers match', async () => {
    for (const answer of [false, true]) {
      const { context, printed, calls } = fakeContext(answer)
      await commandOf('/verify bob').run(context, 'bob')
      expect(printed[0]).toBe(
        '-- safety number with bob:\n   number with bob\n   compare it with bob over another channel',
      )
      expect(calls).toEqual(answer ? ['markVerified bob'] : [])
      // Either answer is said: no answer passes without a word.
      expect(printed[1]).toBe(
        answer
          ? '-- bob is verified'
          : '-- bob is not marked verified; /verify bob again once you have compared',
      )
    }
  })
})
