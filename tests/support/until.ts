// Waiting on a condition the test can only look at (files a client writes as it goes): asked
// again every few milliseconds until it holds, or failed once the time is up.

/** Resolves once `holds()` is true; rejects after `timeoutMs` with what was being waited for. */
export async function until(holds: () => boolean, what = 'the condition', timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs
  while (!holds()) {
    if (performance.now() > deadline) throw new Error(`${what} never came true in ${timeoutMs} ms`)
    await Bun.sleep(10)
  }
}
