import { describe, expect, test } from 'bun:test'
import { asSentence, type JoinFailure, joinFailureText } from './copy.ts'

describe('joinFailureText', () => {
  test('explains each way a join fails, naming the name where it matters', () => {
    const failures: [JoinFailure, string][] = [
      [
        { kind: 'name', reason: '"admin" is reserved' },
        'That name is not allowed: "admin" is reserved.',
      ],
      [{ kind: 'secret', given: false }, 'This room asks for a secret.'],
      [{ kind: 'secret', given: true }, 'That room secret is wrong.'],
      [
        { kind: 'refused', code: 'name_taken', message: 'name taken' },
        '"alice" is taken: it is bound to another person\'s key. Choose another name.',
      ],
      [
        { kind: 'refused', code: 'name_reserved', message: 'reserved' },
        '"alice" is reserved. Choose another name.',
      ],
      [
        { kind: 'refused', code: 'auth_timeout', message: 'too slow' },
        'Joining took too long. Try again.',
      ],
      [
        { kind: 'store', reason: 'the stored group is damaged' },
        'This browser\'s saved keys for "alice" cannot be used: the stored group is damaged.',
      ],
      [
        { kind: 'unreachable', reason: 'connection refused' },
        'Cannot reach the chat server (connection refused).',
      ],
    ]
    expect(failures.map(([failure]) => joinFailureText('alice', failure))).toEqual(
      failures.map(([, text]) => text),
    )
  })

  test('passes on the server’s own words for a refusal the page has none for', () => {
    const failure: JoinFailure = {
      kind: 'refused',
      code: 'rejoin_limited',
      message: 'wait a minute',
    }
    expect(joinFailureText('alice', failure)).toBe('The server refused: wait a minute')
  })
})

describe('asSentence', () => {
  test('capitalises the engine’s phrase and leaves the rest as it was', () => {
    expect(asSentence('sending waits for bob’s key')).toBe('Sending waits for bob’s key')
    expect(asSentence('')).toBe('')
  })
})
