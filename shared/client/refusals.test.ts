import { describe, expect, test } from 'bun:test'
import { ERROR_CODES, type ErrorCode } from '../protocol/frames.ts'
import { refusalRemedy, refusesJoin } from './refusals.ts'

describe('refusalRemedy', () => {
  test('asks for the secret again after a wrong one, and for another name after a bad name', () => {
    expect(refusalRemedy('bad_secret')).toBe('ask_secret')
    const names = [
      'name_taken',
      'name_invalid',
      'name_reserved',
      'name_confusable',
      'name_limited',
      'invite_required',
      'invite_invalid',
    ]
    for (const code of names as ErrorCode[]) {
      expect(refusalRemedy(code)).toBe('ask_name')
    }
  })

  test('gives up on every other refusal, and only those eight end a join', () => {
    const answerable = ERROR_CODES.filter(refusesJoin)
    expect(answerable.sort()).toEqual([
      'bad_secret',
      'invite_invalid',
      'invite_required',
      'name_confusable',
      'name_invalid',
      'name_limited',
      'name_reserved',
      'name_taken',
    ])
    expect(refusalRemedy('auth_failed')).toBe('give_up')
  })
})
