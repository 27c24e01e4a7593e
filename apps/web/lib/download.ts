// Saving a received file from the page: a Blob behind an object URL and an <a download>. Knows
// the DOM's download mechanics; nothing of the engine. The name must already be sanitized.

/** Blob URLs are same-origin and a download is not a fetch, so the page's CSP allows it as is. */
export function saveTextFile(safeName: string, bytes: Uint8Array): void {
  const blob = new Blob([new Uint8Array(bytes)], { type: 'text/plain;charset=utf-8' })
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = safeName
  link.rel = 'noopener'
  document.body.append(link)
  link.click()
  link.remove()
  // The browser has taken its copy once the click has been handled.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}
