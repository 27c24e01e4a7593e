// Runs the client stores' contract inside a browser page, against IndexedDB: the contract test
// bundles this file and calls `runClientStoresCase` by name. Knows nothing of the page or runner.
import { openIndexedDbStores } from './indexeddb-stores.ts'
import { CLIENT_STORES_CONTRACT, type OpenStores } from './stores.contract.ts'

let opened = 0
const connections: Array<{ close(): void }> = []

/** A database of its own for every call, so no case sees another's records. */
const open: OpenStores = async () => {
  opened += 1
  const name = `contract-${opened}`
  const stores = await openIndexedDbStores(name)
  connections.push(stores)
  return {
    stores,
    async reopen() {
      const again = await openIndexedDbStores(name)
      connections.push(again)
      return again
    },
  }
}

/** 'ok', or why the case failed. */
async function runClientStoresCase(name: string): Promise<string> {
  const contractCase = CLIENT_STORES_CONTRACT.find((item) => item.name === name)
  if (!contractCase) return `no case named ${JSON.stringify(name)}`
  try {
    await contractCase.run(open)
    return 'ok'
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    for (const connection of connections.splice(0)) connection.close()
  }
}

Object.assign(globalThis, { runClientStoresCase })
