import { describe, expect, test } from 'bun:test'
import { ERROR_CODES, type ErrorCode, errorFrame } from '../protocol/frames.ts'
import { mayRefuseMessages, refusalRemedy, refusesJoin } from './refusals.ts'

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

describe('mayRefuseMessages', () => {
  test('takes a refusal about a message, or about no frame named, as one that may be a message’s', () => {
    for (const code of ['rate_limited', 'unavailable', 'not_in_group'] as const) {
      expect(mayRefuseMessages(errorFrame(code, 'no', false))).toBe(true)
      expect(mayRefuseMessages(errorFrame(code, 'no', false, 'app'))).toBe(true)
    }
  })

  test('leaves messages on their way alone when the refusal is about another frame', () => {
    expect(mayRefuseMessages(errorFrame('rate_limited', 'slow down', false, 'devices'))).toBe(false)
    expect(mayRefuseMessages(errorFrame('unavailable', 'try again', false, 'unlink'))).toBe(false)
    expect(mayRefuseMessages(errorFrame('name_taken', 'taken', false))).toBe(false)
  })
})
