import { describe, expect, test } from 'bun:test'
import type { MessageEvent } from '../../shared/client/events.ts'
import { mentionsYou } from './bell.ts'
import { loadOptions, UsageError } from './options.ts'

function message(text: string, fields: Partial<MessageEvent> = {}): MessageEvent {
  return { type: 'message', id: 'm', seq: 1, at: 0, from: 'bob', own: false, text, ...fields }
}

describe('the bell', () => {
  test('rings for a message from someone else that names you as a word, in any case', () => {
    for (const text of [
      'alice',
      'hi alice',
      '@alice look',
      'ALICE: now',
      'ok, Alice.',
      'x\nalice',
    ]) {
      expect(mentionsYou(message(text), 'alice')).toBe(true)
    }
    for (const text of ['alicex', 'malice', 'bob-alice', 'alice_2', 'al ice', '']) {
      expect(mentionsYou(message(text), 'alice')).toBe(false)
    }
    expect(mentionsYou(message('alice', { own: true, from: 'alice' }), 'alice')).toBe(false)
    expect(mentionsYou({ type: 'status', status: 'ready', detail: 'alice' }, 'alice')).toBe(false)
  })

  test('is a flag or CHATBOX_BELL, left to the mode when unset', () => {
    expect(loadOptions([], {}).bell).toBeUndefined()
    expect(loadOptions(['--bell'], {}).bell).toBe(true)
    expect(loadOptions(['--no-bell'], { CHATBOX_BELL: 'on' }).bell).toBe(false)
    expect(loadOptions([], { CHATBOX_BELL: 'off' }).bell).toBe(false)
    expect(loadOptions([], { CHATBOX_BELL: 'Yes' }).bell).toBe(true)
    expect(() => loadOptions([], { CHATBOX_BELL: 'loud' })).toThrow(UsageError)
    expect(() => loadOptions([], { CHATBOX_BELL: 'loud' })).toThrow('--bell must be on or off')
  })
})
