// This person's devices, from this client: approving a new device by the code it shows (the code
// is computed again here from what the server relays, so the server cannot slip in a key of its
// own), listing the devices, unlinking one. One request at a time; the answers come as frames.

import { approvalMessage, linkCode, normalizeLinkCode } from '../crypto/device-links.ts'
import { keyFingerprint } from '../crypto/fingerprint.ts'
import { type IdentityKeyPair, signWithIdentity } from '../crypto/identity-key.ts'
import type { ClientFrame, ErrorFrame, ServerFrame } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import { ChatError } from './chat-error.ts'
import { SerialQueue } from './serial-queue.ts'

type DevicesFrame = Extract<ServerFrame, { type: 'devices' }>
type LinkDeviceFrame = Extract<ServerFrame, { type: 'link-device' }>
type Answer = DevicesFrame | LinkDeviceFrame

/** One device of this person, as the views list it. */
export interface DeviceView {
  readonly identityKey: string
  readonly fingerprint: string
  readonly linkedAt: number
  /** The device this client runs on. */
  readonly thisDevice: boolean
  /** The device that first took the name: it cannot be unlinked. */
  readonly first: boolean
}

/** How long a device request waits for its answer before the user is told to try again. */
const ANSWER_MS = 15_000

export class DeviceDesk {
  private readonly queue = new SerialQueue()
  private waiting: (PromiseWithResolvers<Answer> & { readonly request: ClientFrame }) | undefined

  constructor(
    private readonly options: {
      readonly name: string
      readonly identity: () => IdentityKeyPair
      readonly send: (frame: ClientFrame) => void
      readonly connected: () => boolean
      /** How long a request waits for its answer (ANSWER_MS unless a test gives less). */
      readonly answerMs?: number
    },
  ) {}

  /**
   * Approves the new device of this name that shows `typed`: its key is signed only if the code
   * computed from what the server relays is the one typed. Resolves with the devices after.
   */
  approve(typed: string): Promise<DeviceView[]> {
    const code = normalizeLinkCode(typed)
    if (!code) {
      const message = 'a link code is three groups of four letters and digits, like 7KQ2-M9XD-4HRT'
      return Promise.reject(new ChatError('link_code', message))
    }
    return this.queue.run(async () => {
      const found = await this.ask({ type: 'link-find', code }, 'link-device')
      const { name } = this.options
      if (
        nameKey(found.name) !== nameKey(name) ||
        linkCode(name, found.identityKey, found.nonce) !== code
      ) {
        // The server answered with a device that does not show this code: sign nothing.
        const message =
          'the server offered a device that does not show this code; nothing was approved'
        throw new ChatError('link_mismatch', message)
      }
      const identity = this.options.identity()
      const signature = await signWithIdentity(identity, approvalMessage(name, found.identityKey))
      const frame = { type: 'link-approve' as const, identityKey: found.identityKey, signature }
      return this.views(await this.ask(frame, 'devices'))
    })
  }

  /** This person's devices as the server records them. */
  list(): Promise<DeviceView[]> {
    return this.queue.run(async () => this.views(await this.ask({ type: 'devices' }, 'devices')))
  }

  /** Unlinks the device with this identity key (the whole key): refused from now on. */
  unlink(identityKey: string): Promise<DeviceView[]> {
    return this.queue.run(async () => {
      const answer = await this.ask({ type: 'unlink', identityKey }, 'devices')
      return this.views(answer)
    })
  }

  /** A frame that answers the request out, if one is. */
  receive(frame: Answer): void {
    this.waiting?.resolve(frame)
  }

  /**
   * An error; true when it refuses the request out (that is rejected with it). Only the server's
   * word that it refuses a frame of that type counts: a code alone could be a refusal of a commit
   * or a message that arrived meanwhile, and taken here it would never reach the membership.
   */
  refused(frame: ErrorFrame): boolean {
    if (!this.waiting || frame.about !== this.waiting.request.type) return false
    this.waiting.reject(new ChatError('refused', frame.message, frame.code))
    return true
  }

  /** The connection is gone: the request out gets no answer. */
  lost(): void {
    this.waiting?.reject(new ChatError('not_connected', 'the connection was lost; try again'))
  }

  private async ask<T extends Answer['type']>(
    frame: ClientFrame,
    expected: T,
  ): Promise<Extract<Answer, { type: T }>> {
    if (!this.options.connected()) {
      throw new ChatError('not_connected', 'not connected to the room; try again once connected')
    }
    const waiting = { ...Promise.withResolvers<Answer>(), request: frame }
    this.waiting = waiting
    this.options.send(frame)
    const timer = setTimeout(() => {
      waiting.reject(new ChatError('not_connected', 'the server did not answer; try again'))
    }, this.options.answerMs ?? ANSWER_MS)
    try {
      const answer = await waiting.promise
      if (answer.type !== expected)
        throw new ChatError('protocol', `the server answered ${answer.type}`)
      return answer as Extract<Answer, { type: T }>
    } finally {
      clearTimeout(timer)
      if (this.waiting === waiting) this.waiting = undefined
    }
  }

  private views(frame: DevicesFrame): Promise<DeviceView[]> {
    const own = this.options.identity().publicKeyText
    return Promise.all(
      frame.devices.map(async (device, index) => ({
        identityKey: device.identityKey,
        fingerprint: await keyFingerprint(device.identityKey),
        linkedAt: device.linkedAt,
        thisDevice: device.identityKey === own,
        first: index === 0,
      })),
    )
  }
}
