// Finds the web links in a message so the page can make them clickable: http and https only,
// every other scheme (javascript:, data:, …) stays text. Pure; the timeline draws the parts as
// elements and text nodes, never as markup.

export type MessagePart =
  | { readonly kind: 'text'; readonly text: string }
  /** `text` as written; `href` as the URL parser normalised it, the only form ever followed. */
  | { readonly kind: 'link'; readonly text: string; readonly href: string }

/**
 * `http://` or `https://` and what follows up to whitespace, quotes or angle brackets. Controls
 * and reordering characters end a link too: a link's text is always shown as it is.
 */
const CANDIDATE = /\bhttps?:\/\/[^\s"<>\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+/giu
/** Sentence punctuation after a link belongs to the sentence. */
const TRAILING = /[.,;:!?'*_]$/
const CLOSERS: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{' }

export function messageParts(text: string): MessagePart[] {
  const parts: MessagePart[] = []
  let shownUpTo = 0
  for (const match of text.matchAll(CANDIDATE)) {
    const written = trimTrailing(match[0])
    const href = webHref(written)
    if (href === undefined) continue
    if (match.index > shownUpTo)
      parts.push({ kind: 'text', text: text.slice(shownUpTo, match.index) })
    parts.push({ kind: 'link', text: written, href })
    shownUpTo = match.index + written.length
  }
  if (shownUpTo < text.length) parts.push({ kind: 'text', text: text.slice(shownUpTo) })
  return parts
}

/**
 * Drops sentence punctuation and closing brackets that close nothing opened inside the link:
 * `(see https://x.org/a)` ends at `a`, `https://en.wikipedia.org/wiki/Bun_(software)` keeps its own.
 */
function trimTrailing(candidate: string): string {
  let link = candidate
  for (;;) {
    const last = link.at(-1) ?? ''
    const opener = CLOSERS[last]
    if (TRAILING.test(last) || (opener && count(link, last) > count(link, opener))) {
      link = link.slice(0, -1)
    } else {
      return link
    }
  }
}

function count(text: string, char: string): number {
  return text.split(char).length - 1
}

/** The URL to follow, if the text parses as an http(s) URL with a host; otherwise none. */
function webHref(written: string): string | undefined {
  let url: URL
  try {
    url = new URL(written)
  } catch {
    return undefined
  }
  // The pattern only finds http(s); the parser has the last word on what the link is.
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    return undefined
  }
  return url.href
}
