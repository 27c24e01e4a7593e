import { describe, expect, test } from 'bun:test'
import { createJoiningLines } from './joining-lines.ts'
import { createView } from './view.ts'

const NOW = 1_750_000_000_000
const WAITING = { type: 'link-code', code: '7KQ2-M9XD-4HRT', expiresAt: NOW + 5 * 60_000 } as const

function linesFor(json: boolean) {
  const view = createView({ color: false, verbose: false, json, multiline: !json })
  return createJoiningLines(view, () => NOW)
}

describe('what a device being linked shows while it waits', () => {
  test('its code on a line of its own, then where to type it; the same code again is not repeated', () => {
    const lines = linesFor(false)
    expect(lines(WAITING, 'alice')).toBe(
      'link code: 7KQ2-M9XD-4HRT\n' +
        '-- type /link 7KQ2-M9XD-4HRT on a device where you are alice; the code works once, for ' +
        '5 minutes',
    )
    // Said again after a reconnect: once is enough.
    expect(lines(WAITING, 'alice')).toBeUndefined()
    expect(lines({ type: 'linked' }, 'alice')).toBe(
      '-- a device of yours approved this one: it is linked',
    )
    expect(lines({ type: 'status', status: 'connecting' }, 'alice')).toBeUndefined()
  })

  test('with --json the event and the hint are JSON lines, by fields', () => {
    const lines = linesFor(true)
    const shown = lines({ ...WAITING, expiresAt: NOW + 40_000 }, 'alice')?.split('\n') ?? []
    expect(shown.map((line) => JSON.parse(line))).toEqual([
      { type: 'link-code', code: '7KQ2-M9XD-4HRT', expiresAt: NOW + 40_000 },
      // Under a minute left still reads as a minute, not none.
      { type: 'link-hint', name: 'alice', code: '7KQ2-M9XD-4HRT', minutes: 1 },
    ])
  })

  test('a name that would drive the terminal is shown as text', () => {
    const shown = linesFor(false)(WAITING, 'eve\x1b[2J') ?? ''
    expect(shown).toContain('where you are eve\\x1b[2J;')
    expect(shown).not.toContain('\x1b')
  })
})
