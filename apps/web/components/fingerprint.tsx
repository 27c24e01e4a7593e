// A key's fingerprint as every list shows it: two rows of four groups, said with what it is.
import { For } from 'solid-js'
import { fingerprintRows } from '../../../shared/crypto/fingerprint.ts'

export function Fingerprint(props: { value: string; label: string }) {
  return (
    <p class="fingerprint">
      <span class="visually-hidden">{props.label}: </span>
      <code>
        {/* Two rows of four; the space between them stays in what is copied. */}
        <For each={fingerprintRows(props.value)}>
          {(row, index) => (
            <>
              {index() > 0 ? ' ' : ''}
              <span>{row.join(' ')}</span>
            </>
          )}
        </For>
      </code>
    </p>
  )
}
