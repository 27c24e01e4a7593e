import { describe, expect, test } from 'bun:test'
import { closeCodeFor, leaveReasonFor } from './wss.ts'

describe('the WebSocket transport’s close mapping', () => {
  test('closes normally, going away for a shutdown, and as a policy violation for a refusal', () => {
    expect([
      closeCodeFor(undefined),
      closeCodeFor('going_away'),
      closeCodeFor('rate_limited'),
    ]).toEqual([1000, 1001, 1008])
  })

  test('tells a peer that vanished from one Bun timed out or dropped for breaking the protocol', () => {
    expect(leaveReasonFor(1000, 'bye')).toBe('disconnect')
    expect(leaveReasonFor(1006, '')).toBe('disconnect')
    expect(leaveReasonFor(1006, 'WebSocket timed out from inactivity')).toBe('timeout')
    expect(leaveReasonFor(1006, 'Received invalid UTF-8')).toBe('dropped')
  })
})
