import { describe, expect, test } from 'bun:test'
import { createTabSession } from './tab-session.ts'

/** A Map-backed Storage; `broken` makes every call throw, as a full or disabled storage does. */
class FakeStorage implements Storage {
  readonly items = new Map<string, string>()
  constructor(private readonly broken = false) {}
  get length(): number {
    return this.items.size
  }
  clear(): void {
    this.items.clear()
  }
  getItem(key: string): string | null {
    this.check()
    return this.items.get(key) ?? null
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null
  }
  removeItem(key: string): void {
    this.check()
    this.items.delete(key)
  }
  setItem(key: string, value: string): void {
    this.check()
    this.items.set(key, value)
  }
  private check(): void {
    if (this.broken) throw new DOMException('storage is unavailable', 'QuotaExceededError')
  }
}

function storages() {
  const tab = new FakeStorage()
  const anyTab = new FakeStorage()
  return { tab, anyTab, session: createTabSession(tab, anyTab) }
}

describe('createTabSession', () => {
  test('has nothing to rejoin and no name to suggest in a fresh browser', () => {
    const { session } = storages()
    expect(session.joined()).toBeUndefined()
    expect(session.lastName()).toBe('')
  })

  test('remembers a join for this tab, and only the name for the others', () => {
    const { tab, anyTab, session } = storages()
    session.remember('alice', 'open sesame')
    expect(session.joined()).toEqual({ name: 'alice', secret: 'open sesame' })
    expect(session.lastName()).toBe('alice')
    expect([...tab.items]).toEqual([['chatbox:joined', '{"name":"alice","secret":"open sesame"}']])
    expect([...anyTab.items]).toEqual([['chatbox:last-name', 'alice']])
  })

  test('stores no secret when the room asked for none', () => {
    for (const secret of [undefined, '']) {
      const { tab, session } = storages()
      session.remember('bob', secret)
      expect(tab.getItem('chatbox:joined')).toBe('{"name":"bob"}')
      expect(session.joined()).toStrictEqual({ name: 'bob' })
    }
  })

  test('forgets the join but still suggests the name', () => {
    const { session } = storages()
    session.remember('alice', undefined)
    session.forget()
    expect(session.joined()).toBeUndefined()
    expect(session.lastName()).toBe('alice')
  })

  test('reads a join stored by an earlier page of this tab', () => {
    const { tab, anyTab, session } = storages()
    tab.setItem('chatbox:joined', '{"name":"carol","secret":"s"}')
    anyTab.setItem('chatbox:last-name', 'carol')
    expect(session.joined()).toEqual({ name: 'carol', secret: 's' })
    expect(session.lastName()).toBe('carol')
  })

  test('ignores a stored join that is not JSON or not the right shape', () => {
    const stored = ['{"name":', 'null', '"alice"', '{"secret":"s"}', '{"name":"a","secret":4}']
    for (const text of stored) {
      const { tab, session } = storages()
      tab.setItem('chatbox:joined', text)
      expect(session.joined()).toBeUndefined()
    }
  })

  test('joins on without remembering when storage is full or disabled', () => {
    const session = createTabSession(new FakeStorage(true), new FakeStorage(true))
    expect(() => session.remember('alice', 'secret')).not.toThrow()
    expect(session.lastName()).toBe('')
  })
})
