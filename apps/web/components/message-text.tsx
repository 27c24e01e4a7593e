// A message's text: web links as links that open in a new tab without an opener, the rest as
// text with control characters made visible. Elements and text nodes only, never markup.
import { For } from 'solid-js'
import { visibleText } from '../../../shared/client/visible-text.ts'
import { messageParts } from '../lib/links.ts'

export function MessageText(props: { text: string }) {
  return (
    <For each={messageParts(props.text)}>
      {(part) =>
        part.kind === 'link' ? (
          <a href={part.href} target="_blank" rel="noopener noreferrer" title={part.href}>
            {part.text}
          </a>
        ) : (
          visibleText(part.text)
        )
      }
    </For>
  )
}
