import { describe, expect, test } from 'bun:test'
import { secretsEqual } from './secret.ts'

describe('secretsEqual', () => {
  test('is true for the same secret', () => {
    expect(secretsEqual('open sesame', 'open sesame')).toBe(true)
    expect(secretsEqual('пароль🔑', 'пароль🔑')).toBe(true)
  })

  test('is false for a secret that differs in one character', () => {
    expect(secretsEqual('open sesamE', 'open sesame')).toBe(false)
    expect(secretsEqual('Open sesame', 'open sesame')).toBe(false)
  })

  test('is false for a prefix or an extension of the secret', () => {
    expect(secretsEqual('open', 'open sesame')).toBe(false)
    expect(secretsEqual('open sesame!', 'open sesame')).toBe(false)
    expect(secretsEqual('', 'open sesame')).toBe(false)
  })

  test('compares UTF-8 bytes, so look-alike characters differ', () => {
    expect(secretsEqual('p\u0430ss', 'pass')).toBe(false)
  })
})
