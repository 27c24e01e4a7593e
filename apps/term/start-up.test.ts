import { describe, expect, test } from 'bun:test'
import { PassThrough, Writable } from 'node:stream'
import type { ChatEvent } from '../../shared/client/events.ts'
import { ChatError } from '../../shared/client/session.ts'
import type { ErrorCode } from '../../shared/protocol/frames.ts'
import { checkName } from '../../shared/protocol/names.ts'
import { parseServerAddress } from './options.ts'
import { UnreachableError } from './server-trust.ts'
import { type JoinAttempt, StartUpError, startUp } from './start-up.ts'

const SERVER = parseServerAddress('127.0.0.1:8444')

/** A terminal made of streams: keys go in, and what clack draws is collected as plain text. */
function mockTerminal() {
  const input = new PassThrough()
  let drawn = ''
  let waiting: { pattern: RegExp; from: number; resolve: () => void } | undefined
  const check = () => {
    if (waiting?.pattern.test(drawn.slice(waiting.from))) {
      waiting.resolve()
      waiting = undefined
    }
  }
  const output = new Writable({
    write(chunk, _encoding, done) {
      drawn += Bun.stripANSI(String(chunk))
      check()
      done()
    },
  })
  let mark = 0
  return {
    input,
    output,
    drawn: () => drawn,
    /** Resolves once `pattern` is drawn after what the previous wait saw. */
    async waitFor(pattern: RegExp): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>()
      waiting = { pattern, from: mark, resolve }
      check()
      await promise
      mark = drawn.length
    },
    type(keys: string) {
      input.write(keys)
    },
  }
}

/** Sessions whose connect() answers in turn: a server refusal code, or undefined to admit. */
function scriptedServer(answers: (ErrorCode | undefined)[]) {
  const attempts: JoinAttempt[] = []
  const closed: number[] = []
  const open = (attempt: JoinAttempt) => {
    const index = attempts.push(attempt) - 1
    const answer = answers[index]
    return {
      index,
      connect: async () => {
        if (answer) throw new ChatError('refused', `refused: ${answer}`, answer)
      },
      close: async () => {
        closed.push(index)
      },
    }
  }
  return { attempts, closed, open, trust: async () => undefined }
}

/** How a start-up that must fail ended: its message and exit code. */
async function endOf(startingUp: Promise<unknown>): Promise<[string, number]> {
  const error = await startingUp.then(
    () => new Error('the start-up went through'),
    (error: unknown) => error,
  )
  if (!(error instanceof StartUpError)) throw error
  return [error.message, error.exitCode]
}

const literally = (text: string) => new RegExp(RegExp.escape(text))

describe('the start-up on injected streams', () => {
  test('asks for a name, refuses an invalid one as typed, then asks for the secret the server wants', async () => {
    const terminal = mockTerminal()
    const server = scriptedServer(['bad_secret', undefined])
    const joined = startUp({ ...terminal, interactive: true }, { server: SERVER }, server)

    await terminal.waitFor(/Your name in the room/)
    terminal.type('9lives\r')
    await terminal.waitFor(literally(checkName('9lives').message ?? 'no message'))
    expect(server.attempts).toEqual([])
    terminal.type('\x15alice\r')
    await terminal.waitFor(/refused: bad_secret\. Room secret/)
    terminal.type('s3cret\r')

    const session = await joined
    expect(session.index).toBe(1)
    expect(server.attempts).toEqual([
      { address: SERVER, ca: undefined, name: 'alice', secret: undefined },
      { address: SERVER, ca: undefined, name: 'alice', secret: 's3cret' },
    ])
    expect(server.closed).toEqual([0])
    expect(terminal.drawn()).toContain('Joined 127.0.0.1:8444 as alice')
    expect(terminal.drawn()).not.toContain('s3cret')
  })

  test('a name the server refuses is asked again, with the refusal shown and the name offered', async () => {
    const terminal = mockTerminal()
    const server = scriptedServer(['name_taken', undefined])
    const joined = startUp(
      { ...terminal, interactive: true },
      { server: SERVER, name: 'alice', secret: 'given' },
      server,
    )
    await terminal.waitFor(/refused: name_taken[\s\S]*Your name in the room[\s\S]*alice/)
    terminal.type('2\r')
    await joined
    expect(server.attempts.map((attempt) => [attempt.name, attempt.secret])).toEqual([
      ['alice', 'given'],
      ['alice2', 'given'],
    ])
  })

  test('asks for the server, offering the default, and for consent to pin a certificate', async () => {
    const terminal = mockTerminal()
    const server = scriptedServer([undefined])
    const asked: boolean[] = []
    const joined = startUp(
      { ...terminal, interactive: true },
      { name: 'alice' },
      {
        ...server,
        trust: async (_address, ask) => {
          if (!ask) throw new Error('an interactive start-up can ask')
          const seen = {
            sha256: 'AB:CD',
            spkiSha256: 'abcd',
            subject: 'CN=x',
            issuer: 'CN=x',
            selfSigned: true,
            pem: '',
          }
          asked.push(await ask(seen))
          return ['pinned']
        },
      },
    )
    await terminal.waitFor(/Server \(host:port of its terminal port\)[\s\S]*localhost:8444/)
    terminal.type('\r')
    await terminal.waitFor(/SHA-256 AB:CD[\s\S]*Trust and pin this certificate\?/)
    terminal.type('y')
    terminal.type('\r')
    await joined
    expect(asked).toEqual([true])
    expect(server.attempts).toEqual([
      {
        address: parseServerAddress('localhost:8444'),
        ca: ['pinned'],
        name: 'alice',
        secret: undefined,
      },
    ])
  })

  test('Ctrl-C at a question ends the start-up as cancelled, exit code 130', async () => {
    const terminal = mockTerminal()
    const server = scriptedServer([])
    const joined = startUp({ ...terminal, interactive: true }, { server: SERVER }, server)
    await terminal.waitFor(/Your name in the room/)
    terminal.type('\x03')
    expect(await endOf(joined)).toEqual(['cancelled', 130])
    expect(server.attempts).toEqual([])
  })

  test('without a terminal nothing is asked: a missing name or secret ends it with what to pass', async () => {
    const terminal = mockTerminal()
    const io = { ...terminal, interactive: false }
    expect(await endOf(startUp(io, {}, scriptedServer([])))).toEqual([
      'no name: pass --name NAME or set CHATBOX_NAME',
      2,
    ])
    const server = scriptedServer(['bad_secret'])
    expect(await endOf(startUp(io, { name: 'alice' }, server))).toEqual([
      'refused: bad_secret: pass --secret or set CHATBOX_ROOM_SECRET',
      2,
    ])
    expect(server.attempts[0]?.address).toEqual(parseServerAddress('localhost:8444'))
    expect(terminal.drawn()).toBe('')
  })

  test('a refusal no answer can fix, or a failure to connect, ends it with exit code 1', async () => {
    const io = { ...mockTerminal(), interactive: false }
    const options = { server: SERVER, name: 'alice' }
    expect(await endOf(startUp(io, options, scriptedServer(['auth_failed'])))).toEqual([
      'refused: auth_failed',
      1,
    ])
    const unreachable = {
      trust: async () => undefined,
      open: () => ({
        connect: () => Promise.reject(new Error('connection refused')),
        close: async () => {},
      }),
    }
    expect(await endOf(startUp(io, options, unreachable))).toEqual([
      'cannot join 127.0.0.1:8444: connection refused',
      1,
    ])
  })

  test('an address that leads nowhere, or to the web port, is asked again with a better guess', async () => {
    const terminal = mockTerminal()
    const server = scriptedServer([undefined])
    const tried: string[] = []
    const joined = startUp(
      { ...terminal, interactive: true },
      { server: parseServerAddress('chat.example:8443'), name: 'alice' },
      {
        ...server,
        trust: async (address) => {
          tried.push(address.label)
          if (address.port === 9999)
            throw new UnreachableError(`nothing answers at ${address.label}`)
          return undefined
        },
        open: (attempt) => {
          // The web port takes TLS, then hangs up on a chatbox hello.
          if (attempt.address.port !== 8443) return server.open(attempt)
          return {
            connect: () => Promise.reject(new Error('connection closed')),
            close: async () => {},
          }
        },
        speaksHttps: async (address) => address.port === 8443,
      },
    )
    await terminal.waitFor(
      /that looks like chatbox's web port; the terminal port is usually 8444[\s\S]*Server \(host:port[\s\S]*chat\.example:8444/,
    )
    // Not that: another port, where nothing answers.
    terminal.type(`${'\x7f'.repeat(4)}9999\r`)
    await terminal.waitFor(/nothing answers at chat\.example:9999[\s\S]*Server \(host:port/)
    terminal.type(`${'\x7f'.repeat(4)}8444\r`)
    await joined
    expect(tried).toEqual(['chat.example:8443', 'chat.example:9999', 'chat.example:8444'])
    expect(server.attempts.map((attempt) => attempt.address.label)).toEqual(['chat.example:8444'])
  })

  test('without a terminal, a wrong address ends it at once, saying what it looks like', async () => {
    const io = { ...mockTerminal(), interactive: false }
    const web = {
      trust: async () => undefined,
      open: () => ({
        connect: () => Promise.reject(new Error('connection closed')),
        close: async () => {},
      }),
      speaksHttps: async () => true,
    }
    const [message, code] = await endOf(startUp(io, { server: SERVER, name: 'alice' }, web))
    expect(message).toBe(
      "cannot join 127.0.0.1:8444: it answers HTTPS: that looks like chatbox's web port; " +
        'the terminal port is usually 8444',
    )
    expect(code).toBe(1)
    const nowhere = {
      ...web,
      trust: async () => Promise.reject(new UnreachableError('nothing answers at 127.0.0.1:8444')),
    }
    expect(await endOf(startUp(io, { server: SERVER, name: 'alice' }, nowhere))).toEqual([
      'nothing answers at 127.0.0.1:8444',
      1,
    ])
  })
})

describe('a new device waiting to be linked', () => {
  /** A session that shows a link code when it connects and is admitted once `approve` is called. */
  function waitingSession() {
    const listeners = new Set<(event: ChatEvent) => void>()
    const emit = (event: ChatEvent) => {
      for (const listener of listeners) listener(event)
    }
    const approved = Promise.withResolvers<void>()
    const code = { type: 'link-code', code: '7KQ2-M9XD-4HRT', expiresAt: 0 } as const
    const session = {
      connect: async () => {
        emit(code)
        await approved.promise
        emit({ type: 'linked' })
      },
      close: async () => {},
      on(listener: (event: ChatEvent) => void) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    }
    const approve = () => approved.resolve()
    return { session, emit, approve, code, trust: async () => undefined, open: () => session }
  }

  const joining = (event: ChatEvent) =>
    event.type === 'link-code'
      ? `link code: ${event.code}`
      : event.type === 'linked'
        ? '-- linked'
        : undefined

  test('without a terminal its code is a line of its own, and nothing once it has joined', async () => {
    const terminal = mockTerminal()
    const server = waitingSession()
    const joined = startUp(
      { ...terminal, interactive: false, joining },
      { server: SERVER, name: 'alice' },
      server,
    )
    await terminal.waitFor(/link code: 7KQ2-M9XD-4HRT\n/)
    server.approve()
    await joined
    server.emit(server.code)
    expect(terminal.drawn()).toBe('link code: 7KQ2-M9XD-4HRT\n-- linked\n')
  })

  test('on a terminal the spinner makes way for the code, then waits for the approval', async () => {
    const terminal = mockTerminal()
    const server = waitingSession()
    const joined = startUp(
      { ...terminal, interactive: true, joining },
      { server: SERVER, name: 'alice' },
      server,
    )
    await terminal.waitFor(/\nlink code: 7KQ2-M9XD-4HRT\n[\s\S]*Waiting for a device of alice/)
    server.approve()
    await joined
    // The spinner's own line is erased by cursor moves, which this mock terminal drops.
    expect(terminal.drawn()).toMatch(/-- linked\n[\s\S]*Joined 127\.0\.0\.1:8444 as alice/)
  })
})
