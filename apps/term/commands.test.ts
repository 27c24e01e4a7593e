import { describe, expect, test } from 'bun:test'
import { parseCommand } from './commands.ts'

describe('parseCommand', () => {
  test('plain lines are messages, // sends a literal slash', () => {
    expect(parseCommand('hello')).toEqual({ kind: 'message', text: 'hello' })
    expect(parseCommand('//etc is a path')).toEqual({ kind: 'message', text: '/etc is a path' })
  })

  test('each command parses, with its argument', () => {
    expect(parseCommand('/help')).toEqual({ kind: 'help' })
    expect(parseCommand('/who')).toEqual({ kind: 'who' })
    expect(parseCommand('/room')).toEqual({ kind: 'room' })
    expect(parseCommand('/quit')).toEqual({ kind: 'quit' })
    expect(parseCommand('/file my notes.txt')).toEqual({ kind: 'file', path: 'my notes.txt' })
    expect(parseCommand('/verify bob')).toEqual({ kind: 'verify', name: 'bob' })
    expect(parseCommand('/TRUST bob')).toEqual({ kind: 'trust', name: 'bob' })
  })

  test('a missing argument or an unknown command says what is wrong', () => {
    expect(parseCommand('/file')).toEqual({ kind: 'invalid', problem: '/file needs a PATH' })
    expect(parseCommand('/dance')).toEqual({
      kind: 'invalid',
      problem: 'unknown command /dance; /help lists them',
    })
  })
})
