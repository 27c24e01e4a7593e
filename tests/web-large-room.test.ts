// A large room in the page (issue 18, item 4): `ready` lists the first page of who is online, the
// member list says how many there are, and lists the rest when asked. Real server, real Chromium.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { browserAvailable, chromiumForTests, openChat } from './support/browser.ts'
import { connectWebSocket, join, startTestServer, type TestClient } from './support/harness.ts'

setDefaultTimeout(60_000)

describe.skipIf(!browserAvailable())('a large room in the page', () => {
  const chromium = chromiumForTests()

  test('shows the count, lists the first page, and everyone once asked', async () => {
    await using server = await startTestServer({ limits: { membersPage: 2 } })
    const early: TestClient[] = []
    try {
      for (const name of ['alice', 'bob', 'carol']) {
        const client = await connectWebSocket(server)
        early.push(client)
        await join(client, name)
      }
      await using chat = await openChat(chromium.browser, server, 'dave')
      const { page } = chat
      const names = () => page.locator('.members .member-name').allTextContents()
      await page
        .getByText('4 online; in a room this large the list may not show everyone.')
        .waitFor()
      expect((await names()).sort()).toEqual(['alice', 'bob', 'dave'])
      await page.getByRole('button', { name: 'List everyone online' }).click()
      await page
        .getByRole('button', { name: 'List everyone online' })
        .waitFor({ state: 'detached' })
      expect((await names()).sort()).toEqual(['alice', 'bob', 'carol', 'dave'])
    } finally {
      for (const client of early) client.close()
    }
  })
})
