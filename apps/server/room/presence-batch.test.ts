import { describe, expect, test } from 'bun:test'
import { createPresenceBatch, LARGE_ROOM_COUNT_MS } from './presence-batch.ts'

function batch(online: { count: number }) {
  const sent: unknown[] = []
  const turns: Array<() => void> = []
  const timers: Array<{ run: () => void; ms: number }> = []
  const presence = createPresenceBatch({
    deliver: (text) => sent.push(JSON.parse(text)),
    online: () => online.count,
    largeRoom: 3,
    schedule: (run) => turns.push(run),
    later: (run, ms) => timers.push({ run, ms }),
  })
  return { presence, sent, turns, timers }
}

const join = (name: string) =>
  JSON.stringify({ type: 'presence', event: 'join', name, identityKey: 'K'.repeat(43), at: 1 })

describe('createPresenceBatch', () => {
  test('sends a turn’s joins and leaves as one frame with the count, or at once when asked', () => {
    const online = { count: 2 }
    const { presence, sent, turns } = batch(online)
    presence.announce(join('alice'))
    presence.announce(join('bob'))
    expect(sent).toEqual([])
    expect(turns).toHaveLength(1)
    turns[0]?.()
    expect(sent).toEqual([
      {
        type: 'presences',
        events: [
          expect.objectContaining({ name: 'alice' }),
          expect.objectContaining({ name: 'bob' }),
        ],
        online: 2,
      },
    ])
    presence.announce(join('carol'))
    presence.flush()
    expect(sent).toHaveLength(2)
    turns[1]?.()
    expect(sent).toHaveLength(2)
  })

  test('in a large room sends no events, only the count, at most once a second', () => {
    const online = { count: 4 }
    const { presence, sent, turns, timers } = batch(online)
    for (const name of ['dave', 'erin', 'frank']) presence.announce(join(name))
    expect(turns).toEqual([])
    expect(timers.map((timer) => timer.ms)).toEqual([LARGE_ROOM_COUNT_MS])
    online.count = 7
    timers[0]?.run()
    expect(sent).toEqual([{ type: 'presences', events: [], online: 7 }])
    presence.announce(join('grace'))
    expect(timers).toHaveLength(2)
  })
})
