// The client stores' contract (stores.contract.ts) run against every implementation: memory and
// file stores here under Bun, the IndexedDB stores in the real Chromium the web tests use (Bun has
// no IndexedDB of its own). What only one store does (file modes, damaged files) is tested beside it.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { browserAvailable, CHROMIUM_PATH } from '../../tests/support/browser.ts'
import { createFileStores } from './file-stores.ts'
import { createMemoryStores } from './memory-stores.ts'
import { CLIENT_STORES_CONTRACT, type OpenStores } from './stores.contract.ts'

function storeContract(name: string, open: OpenStores): void {
  describe(`${name} stores, by the client stores' contract`, () => {
    for (const contractCase of CLIENT_STORES_CONTRACT) {
      test(contractCase.name, () => contractCase.run(open))
    }
  })
}

storeContract('memory', async () => ({ stores: createMemoryStores() }))

const base = mkdtempSync(path.join(os.tmpdir(), 'chatbox-stores-contract-'))
afterAll(() => rmSync(base, { recursive: true, force: true }))
let directories = 0
storeContract('file', async () => {
  directories += 1
  const dir = path.join(base, String(directories), 'servers', 'localhost_8444')
  return { stores: createFileStores(dir), reopen: async () => createFileStores(dir) }
})

describe.skipIf(!browserAvailable())(
  "IndexedDB stores in Chromium, by the client stores' contract",
  () => {
    let browser: Browser | undefined
    let server: ReturnType<typeof Bun.serve> | undefined
    let page: Page | undefined

    beforeAll(async () => {
      const built = await Bun.build({
        entrypoints: [path.join(import.meta.dir, 'stores.contract.browser.ts')],
        target: 'browser',
      })
      const bundle = await built.outputs[0]?.text()
      if (!built.success || bundle === undefined) throw new Error(`bundle failed: ${built.logs}`)
      // A real origin of its own: IndexedDB is not there for about:blank.
      server = Bun.serve({
        hostname: '127.0.0.1',
        port: 0,
        fetch: (request) =>
          new URL(request.url).pathname === '/contract.js'
            ? new Response(bundle, { headers: { 'content-type': 'text/javascript' } })
            : new Response('<!doctype html><script type="module" src="/contract.js"></script>', {
                headers: { 'content-type': 'text/html' },
              }),
      })
      browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
      })
      page = await browser.newPage()
      await page.goto(`http://127.0.0.1:${server.port}/`)
      await page.waitForFunction(() => 'runClientStoresCase' in globalThis)
    }, 30_000)

    afterAll(async () => {
      await browser?.close()
      await server?.stop(true)
    })

    for (const contractCase of CLIENT_STORES_CONTRACT) {
      test(contractCase.name, async () => {
        const outcome = await page?.evaluate(
          (name) =>
            (
              globalThis as unknown as { runClientStoresCase(name: string): Promise<string> }
            ).runClientStoresCase(name),
          contractCase.name,
        )
        expect(outcome).toBe('ok')
      })
    }
  },
)
