// Bundles the page (index.html and all it pulls in) into minified files held in memory, for the
// server to serve. Knows Bun.build and the Solid plugin; nothing of the room, routes or headers.
import * as v from 'valibot'
import { solidPlugin } from './solid-plugin.ts'

export interface WebAsset {
  readonly body: Uint8Array<ArrayBuffer>
  readonly contentType: string
  /** Named by content hash: may be cached for good. */
  readonly immutable: boolean
}

/** URL path (`/`, `/chunk-4g9k0rr1.js`, …) → file. */
export type WebAssets = ReadonlyMap<string, WebAsset>

const ENTRY = new URL('./index.html', import.meta.url).pathname

/**
 * The browser has WebCrypto, so the lazy `import('crypto')` fallback in @hpke never runs there;
 * left alone, it makes Bun inline a ~390 KB node:crypto polyfill. Anything else from Node or Bun
 * reaching the page (file stores, the TLS transport) is a mistake, so the build fails on it.
 */
const browserOnlyPlugin: Bun.BunPlugin = {
  name: 'browser-only',
  setup(build) {
    build.onResolve({ filter: /^(node:)?crypto$/ }, () => ({ path: 'crypto', namespace: 'stub' }))
    build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: 'export const webcrypto = globalThis.crypto\nexport default { webcrypto }\n',
      loader: 'js',
    }))
    build.onResolve({ filter: /^(node:|bun:|bun$)/ }, ({ path, importer }) => {
      throw new Error(`${importer} imports ${path}, which does not exist in a browser`)
    })
  },
}

export async function buildWebClient(): Promise<WebAssets> {
  const result = await Bun.build({
    entrypoints: [ENTRY],
    target: 'browser',
    minify: true,
    plugins: [solidPlugin, browserOnlyPlugin],
    throw: false,
  })
  if (!result.success) {
    throw new Error(`the web client did not build:\n${result.logs.map(String).join('\n')}`)
  }
  const assets = new Map<string, WebAsset>()
  for (const output of result.outputs) {
    const html = output.path.endsWith('.html')
    assets.set(html ? '/' : output.path.replace(/^\.\//, '/'), {
      body: new Uint8Array(await output.arrayBuffer()),
      contentType: output.type,
      immutable: !html,
    })
  }
  if (!assets.has('/')) throw new Error('the web client build produced no index.html')
  return assets
}

/** What the build worker answers: the files, or why there are none. */
export const BuildReplySchema = v.variant('ok', [
  v.object({
    ok: v.literal(true),
    assets: v.array(
      v.tuple([
        v.string(),
        v.object({
          body: v.instance(Uint8Array<ArrayBuffer>),
          contentType: v.string(),
          immutable: v.boolean(),
        }),
      ]),
    ),
  }),
  v.object({ ok: v.literal(false), message: v.string() }),
])
export type BuildReply = v.InferOutput<typeof BuildReplySchema>

/** Builds on a worker thread (see build-worker.ts) and ends the worker once it has answered. */
function buildWebClientOnWorker(): Promise<WebAssets> {
  const { promise, resolve, reject } = Promise.withResolvers<WebAssets>()
  const worker = new Worker(new URL('./build-worker.ts', import.meta.url).href)
  worker.onmessage = (event: MessageEvent) => {
    worker.terminate()
    const reply = v.safeParse(BuildReplySchema, event.data)
    if (!reply.success) reject(new Error('the web client build worker answered nonsense'))
    else if (reply.output.ok) resolve(new Map(reply.output.assets))
    else reject(new Error(reply.output.message))
  }
  worker.onerror = (event: ErrorEvent) => {
    worker.terminate()
    reject(new Error(`the web client build worker failed: ${event.message}`))
  }
  return promise
}

let shared: Promise<WebAssets> | undefined

/** One build per process, started by the first server and shared by every later one. */
export function webClientAssets(): Promise<WebAssets> {
  shared ??= buildWebClientOnWorker()
  return shared
}
