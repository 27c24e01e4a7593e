// Runs the page build on a worker thread, so Babel and the bundler's garbage live in the worker's
// heap and go with it: built in the server's own heap they stayed there (~15 MB, 90,000 objects),
// and every full collection of a busy server had to walk them again.
import { type BuildReply, buildWebClient } from './build.ts'

declare const self: Worker

try {
  const assets = await buildWebClient()
  const reply: BuildReply = { ok: true, assets: [...assets] }
  self.postMessage(
    reply,
    [...assets.values()].map((asset) => asset.body.buffer),
  )
} catch (error) {
  const reply: BuildReply = { ok: false, message: (error as Error).message }
  self.postMessage(reply)
}
