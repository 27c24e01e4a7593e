// One person on two terminals: the real server and real terminal clients in pipe mode, linking a
// second device by the code it prints, both reading and sending as her, listing and unlinking.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import {
  startTestServer,
  type TestServer,
  temporaryDirectory,
  testCertificates,
} from './support/harness.ts'
import { CLIENT, spawnTerm, type TermProcess } from './support/term.ts'
import { hasTmux, startTmux } from './support/tmux.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const CODE = /^link code: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})$/

/** The first JSON line of a terminal started with --json that matches `pattern`, parsed. */
async function json(term: TermProcess, pattern: RegExp): Promise<Record<string, unknown>> {
  return JSON.parse(await term.waitForLine(pattern))
}

/** alice's first terminal (--json), once it is in the group: an answer to /devices says so. */
async function startLaptop(server: TestServer): Promise<TermProcess> {
  const laptop = await spawnTerm(server, { name: 'alice', args: ['--json'] })
  // Lines wait until the client is in the group.
  laptop.send('/devices')
  await laptop.waitForLine(/"type":"devices"/)
  return laptop
}

/** The phone (--link-device) prints its code; the laptop types it; resolves with the code. */
async function link(laptop: TermProcess, phone: TermProcess): Promise<string> {
  const code = CODE.exec(await phone.waitForLine(CODE))?.[1] as string
  expect(await phone.waitForLine(/^-- type \/link/)).toBe(
    `-- type /link ${code} on a device where you are alice; the code works once, for 5 minutes`,
  )
  laptop.send(`/link ${code}`)
  expect(await json(laptop, /"type":"device-linked"/)).toEqual({
    type: 'device-linked',
    name: 'alice',
    code,
  })
  await phone.waitForLine(/^-- a device of yours approved this one: it is linked$/)
  return code
}

describe('one person on two terminals', () => {
  test('a linked terminal reads and sends as her, lists her devices, and is put out by /unlink', async () => {
    await using server = await startTestServer()
    await using laptop = await startLaptop(server)
    await using phone = await spawnTerm(server, { name: 'alice', args: ['--link-device'] })
    await link(laptop, phone)
    const devices = await json(laptop, /"type":"devices","name":"alice","devices":\[\{.*\},\{/)
    expect(devices.devices).toMatchObject([
      { number: 1, thisDevice: true, first: true },
      { number: 2, thisDevice: false, first: false },
    ])

    // The phone's /devices answers only once it is in the group, like any line before that.
    phone.send('/devices')
    await phone.waitForLine(/^-- alice has 2 devices:$/)
    await phone.waitForLine(/^-- {4}2 /)
    expect(phone.lines.filter((line) => /^-- +\d /.test(line))).toEqual([
      expect.stringMatching(
        /^-- {4}1 {2}[0-9a-f ]{39} {2}linked \d{4}-\d\d-\d\d \d\d:\d\d {2}\(first\)$/,
      ),
      expect.stringMatching(/^-- {4}2 {2}[0-9a-f ]{39} {2}linked .* {2}\(this device\)$/),
    ])
    // The first device is hers for good: the server says so.
    phone.send('/unlink 1')
    expect(await phone.waitForLine(/^-- not unlinked: /)).toBe(
      "-- not unlinked: a name's first device holds it and cannot be unlinked; " +
        'the admin can release the name',
    )

    await using bob = await spawnTerm(server, { name: 'bob', args: ['--verbose'] })
    bob.send('hello both of you')
    for (const device of [laptop, phone]) {
      await device.waitForLine(/bob: hello both of you|"text":"hello both of you"/)
    }
    expect(await json(laptop, /"text":"hello both of you"/)).toMatchObject({
      from: 'bob',
      own: false,
    })
    phone.send('from my phone')
    expect(await json(laptop, /"text":"from my phone"/)).toMatchObject({ from: 'alice', own: true })
    await bob.waitForLine(/^\d\d:\d\d alice: from my phone$/)

    // bob sees one alice with her two devices.
    bob.send('/who')
    await bob.waitForLine(/^-- alice {2}/)
    const alice = bob.lines.findIndex((line) => line.startsWith('-- alice  '))
    expect(bob.lines.slice(alice + 1, alice + 3)).toEqual([
      expect.stringMatching(/^-- {4}device [0-9a-f ]{39} {2}\(online, in group\)$/),
      expect.stringMatching(/^-- {4}device [0-9a-f ]{39} {2}\(online, in group\)$/),
    ])

    // Not this device, and not by a number no list showed.
    laptop.send('/unlink 1')
    expect(await json(laptop, /"command":"unlink"/)).toMatchObject({ code: 'this_device' })
    laptop.send('/unlink 2')
    expect(await json(laptop, /"type":"device-unlinked"/)).toMatchObject({ name: 'alice' })
    const after = await json(laptop, /"type":"devices","name":"alice","devices":\[\{[^\]]*\]/)
    expect(after.devices).toMatchObject([{ number: 1, thisDevice: true }])
    await phone.waitForLine(/\(unlinked\)$/)

    // Its leaf is taken out of the group before bob writes again: what he sends is not for it.
    // (bob joined a group of three, so two is the group after the removal.)
    await bob.waitForLine(/^-- group epoch \d+: 2 member\(s\) can read new messages/)
    bob.send('after the phone was unlinked')
    await laptop.waitForLine(/"text":"after the phone was unlinked"/)
    // (That the unlinked device's saved state cannot read it is shown in tests/devices.test.ts.)
    // Its key is refused from now on: started again, it does not get back in.
    await using again = await spawnTerm(server, { name: 'alice', home: phone.home })
    expect(await again.exited()).toBe(1)
    expect(again.lines).toEqual([])
    expect(again.errors).toEqual([
      expect.stringMatching(/^chatbox: another device of yours unlinked this one/),
    ])
  })

  test('a code used twice, a code nobody shows and a malformed one are refused in words', async () => {
    await using server = await startTestServer()
    await using laptop = await startLaptop(server)
    await using phone = await spawnTerm(server, { name: 'alice', args: ['--link-device'] })
    const code = await link(laptop, phone)
    laptop.send(`/link ${code}`)
    laptop.send('/link AAAA-BBBB-CCCC')
    laptop.send('/link not a code')
    // Lines run in order: once the last is refused, so are the two before it.
    await laptop.waitForLine(/"code":"link_code"/)
    const refusals = laptop.lines
      .filter((line) => line.includes('"type":"refused"'))
      .map((line) => JSON.parse(line))
    const unknown =
      'not linked: no new device of yours shows that code: it may be mistyped, used or expired'
    expect(refusals).toEqual([
      { type: 'refused', command: 'link', code: 'link_invalid', message: unknown },
      { type: 'refused', command: 'link', code: 'link_invalid', message: unknown },
      {
        type: 'refused',
        command: 'link',
        code: 'link_code',
        message: 'a link code is three groups of four letters and digits, like 7KQ2-M9XD-4HRT',
      },
    ])
  })

  test('a device nobody links in time ends with the reason, exit status 1', async () => {
    await using server = await startTestServer({ limits: { linkCodeMs: 300 } })
    await using _laptop = await startLaptop(server)
    await using phone = await spawnTerm(server, { name: 'alice', args: ['--link-device'] })
    await phone.waitForLine(CODE)
    expect(await phone.exited()).toBe(1)
    expect(phone.errors).toEqual([
      'chatbox: not linked: no device of yours approved it in time, or it could not be',
    ])
  })

  test.skipIf(!hasTmux() && process.env.CHATBOX_REQUIRE_TMUX !== '1')(
    'on a terminal the code is a line of its own too, and the chat follows once it is linked',
    async () => {
      await using server = await startTestServer()
      await using laptop = await startLaptop(server)
      using home = temporaryDirectory('chatbox-term-')
      const certs = await testCertificates()
      await using screen = await startTmux(
        [
          'bun',
          CLIENT,
          ...['--server', `127.0.0.1:${server.termPort}`, '--name', 'alice', '--link-device'],
          ...['--config-home', home, '--ca', join(certs.dir, 'ca.pem')],
        ],
        { NO_COLOR: '1', CHATBOX_CERT_DIR: join(home, 'none') },
      )
      const shown = await screen.waitFor(/^link code: [0-9A-Z-]{14}$/m)
      const code = /^link code: ([0-9A-Z-]{14})$/m.exec(shown)?.[1] as string
      expect(shown).toContain(`-- type /link ${code} on a device where you are alice;`)
      laptop.send(`/link ${code}`)
      await screen.waitFor(/joined as alice/)
      await screen.waitFor(/^>$/m)
      expect(await screen.scrollback()).toMatch(
        new RegExp(`^link code: ${code}$[\\s\\S]*^-- a device of yours approved this one`, 'm'),
      )
    },
  )
})
