import { describe, expect, test } from 'bun:test'
import { linkCode } from '../crypto/device-links.ts'
import { createIdentityKeyPair } from '../crypto/identity-key.ts'
import { type ClientFrame, errorFrame } from '../protocol/frames.ts'
import { ChatError } from './chat-error.ts'
import { DeviceDesk } from './devices.ts'

const laptop = await createIdentityKeyPair()
const phone = await createIdentityKeyPair()
const serversOwn = await createIdentityKeyPair()
const NONCE = 'abcdefghijklmnopqrstuv'

function desk(answerMs?: number) {
  const sent: ClientFrame[] = []
  const devices = new DeviceDesk({
    name: 'alice',
    identity: () => laptop,
    send: (frame) => sent.push(frame),
    connected: () => true,
    ...(answerMs === undefined ? {} : { answerMs }),
  })
  return { devices, sent }
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!(error instanceof ChatError)) throw new Error(`expected a ChatError, got ${error}`)
  return error.serverCode ?? error.code
}

describe('approving a device', () => {
  test('signs nothing when the server offers a device that does not show the code typed', async () => {
    const { devices, sent } = desk()
    const code = linkCode('alice', phone.publicKeyText, NONCE)
    const approving = devices.approve(code.toLowerCase())
    await Bun.sleep(0)
    expect(sent).toEqual([{ type: 'link-find', code }])
    // The server answers with a key of its own, under the nonce the phone chose.
    devices.receive({
      type: 'link-device',
      name: 'alice',
      identityKey: serversOwn.publicKeyText,
      nonce: NONCE,
    })
    expect(await refusal(approving)).toBe('link_mismatch')
    expect(sent.map((frame) => frame.type)).toEqual(['link-find'])
  })

  test('signs the device that shows it, for this name', async () => {
    const { devices, sent } = desk()
    const approving = devices.approve(linkCode('alice', phone.publicKeyText, NONCE))
    await Bun.sleep(0)
    devices.receive({
      type: 'link-device',
      name: 'alice',
      identityKey: phone.publicKeyText,
      nonce: NONCE,
    })
    // Signing takes a WebCrypto call: the approval goes out once it is made.
    while (sent.length < 2) await Bun.sleep(1)
    expect(sent.at(-1)).toMatchObject({ type: 'link-approve', identityKey: phone.publicKeyText })
    devices.receive({
      type: 'devices',
      devices: [
        { identityKey: laptop.publicKeyText, links: [], linkedAt: 1 },
        { identityKey: phone.publicKeyText, links: [], linkedAt: 2 },
      ],
    })
    expect((await approving).map((device) => [device.thisDevice, device.first])).toEqual([
      [true, true],
      [false, false],
    ])
  })

  test('is refused as the server refuses it, and not left hanging when it does not answer', async () => {
    const { devices } = desk(50)
    const listing = devices.list()
    await Bun.sleep(0)
    // A refusal that names another frame, or none, is not this request's answer.
    expect(devices.refused(errorFrame('bad_signature', 'a commit', false))).toBe(false)
    expect(devices.refused(errorFrame('unavailable', 'a message', false, 'app'))).toBe(false)
    const unavailable = errorFrame('unavailable', 'the server could not do that', false, 'devices')
    expect(devices.refused(unavailable)).toBe(true)
    expect(await refusal(listing)).toBe('unavailable')
    expect(await refusal(devices.list())).toBe('not_connected')
    expect(await refusal(devices.approve('not a code'))).toBe('link_code')
  })
})
