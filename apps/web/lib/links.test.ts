import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { type MessagePart, messageParts } from './links.ts'

const link = (text: string, href = text): MessagePart => ({ kind: 'link', text, href })
const text = (value: string): MessagePart => ({ kind: 'text', text: value })

describe('messageParts', () => {
  test('makes http and https URLs links and keeps the text around them as text', () => {
    expect(messageParts('see https://example.com/a?b=1#c and http://x.org')).toEqual([
      text('see '),
      link('https://example.com/a?b=1#c'),
      text(' and '),
      link('http://x.org', 'http://x.org/'),
    ])
  })

  test('never links another scheme', () => {
    for (const message of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://example.com/x',
      'mailto:a@example.com',
      'xhttps://example.com',
      'javascript://example.com/%0aalert(1)',
    ]) {
      expect(messageParts(message)).toEqual([text(message)])
    }
  })

  test('leaves sentence punctuation and unopened brackets outside the link', () => {
    expect(messageParts('(see https://x.org/a).')).toEqual([
      text('(see '),
      link('https://x.org/a'),
      text(').'),
    ])
    expect(messageParts('https://en.wikipedia.org/wiki/Bun_(software), yes')).toEqual([
      link('https://en.wikipedia.org/wiki/Bun_(software)'),
      text(', yes'),
    ])
  })

  test('ends a link at a quote, an angle bracket, a control or a reordering character', () => {
    expect(messageParts('"https://x.org/a"<https://x.org/b>')).toEqual([
      text('"'),
      link('https://x.org/a'),
      text('"<'),
      link('https://x.org/b'),
      text('>'),
    ])
    expect(messageParts('https://x.org/a\u202egnp.exe')).toEqual([
      link('https://x.org/a'),
      text('\u202egnp.exe'),
    ])
  })

  test('needs a host: a bare scheme stays text', () => {
    expect(messageParts('https:// and http://')).toEqual([text('https:// and http://')])
  })

  test('follows only the normalised URL', () => {
    expect(messageParts('HTTPS://EXAMPLE.ORG/Path')).toEqual([
      link('HTTPS://EXAMPLE.ORG/Path', 'https://example.org/Path'),
    ])
  })

  test('gives back exactly the message, and only http(s) links, whatever it holds', () => {
    const pieces = fc.constantFrom(
      'https://',
      'http://',
      'javascript:',
      'x.org',
      '/',
      ' ',
      '(',
      ')',
      '.',
      'a',
      '"',
      '\u202e',
    )
    fc.assert(
      fc.property(fc.array(fc.oneof(pieces, fc.string()), { maxLength: 12 }), (chunks) => {
        const message = chunks.join('')
        const parts = messageParts(message)
        expect(parts.map((part) => part.text).join('')).toBe(message)
        for (const part of parts) {
          if (part.kind === 'link') expect(part.href).toMatch(/^https?:\/\/[^/]/)
        }
      }),
    )
  })
})
