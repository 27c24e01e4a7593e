// What a load client counts: its receivers, the step being measured, bench frames' headers.
import { createHistogram, type Histogram, record } from '../histogram.ts'
import type { Target } from '../ipc.ts'
import type { Tap } from '../links.ts'

/** Starts every bench frame's header, ASCII in the place of a ciphertext's bytes. */
const MARKER = 'BENCHx'
const MARKER_BYTES = Buffer.from(MARKER)
const X = 120 // 'x', the header's separator
const ZERO = 48
const DOTS = '.'.repeat(65_536)

export interface Receiver {
  /** The next sequence number expected from each sender in this step: higher ones leave gaps. */
  next: Int32Array
  closed: boolean
}

export const receivers: Receiver[] = []

/** The step being measured; frames of any other step are stragglers and are not counted. */
interface Tally {
  step: number
  histogram: Histogram
  delivered: number
  gaps: number
  /** Frames older than one already seen from their sender: a relay must keep each sender's order. */
  outOfOrder: number
  /** The next sequence number of each sender. */
  seqs: Int32Array
  onDelivery?: () => void
}

export const tally: Tally = {
  step: -1,
  histogram: createHistogram(),
  delivered: 0,
  gaps: 0,
  outOfOrder: 0,
  seqs: new Int32Array(0),
}

export function arm(nextStep: number, senderCount: number): void {
  tally.step = nextStep
  tally.histogram = createHistogram()
  tally.delivered = 0
  tally.gaps = 0
  tally.outOfOrder = 0
  tally.seqs = new Int32Array(senderCount)
  for (const receiver of receivers) receiver.next = new Int32Array(senderCount)
}

export function newReceiver(): Receiver {
  const receiver: Receiver = { next: new Int32Array(tally.seqs.length), closed: false }
  receivers.push(receiver)
  return receiver
}

/** Wall-clock microseconds, comparable between processes (performance.now() alone is not). */
export function nowMicros(): number {
  return (performance.timeOrigin + performance.now()) * 1000
}

/** shared/protocol/binary.ts: a client's `app` frame is this tag, then the ciphertext. */
const APP_TAG = 0x01
const A = 65
const ascii = new TextEncoder()

/** A bench frame as `target` relays it: padded text, or a product `app` frame of its size. */
export function benchFrame(
  target: Target | undefined,
  messageBytes: number,
  frameStep: number,
  sender: number,
  seq: number,
  micros: number,
): string | Uint8Array<ArrayBuffer> {
  const header = `${MARKER}${frameStep}x${sender}x${seq}x${Math.round(micros)}x`
  if (!target || target.kind === 'reference') {
    return header + DOTS.slice(0, Math.max(0, messageBytes - header.length))
  }
  // The binary `app` frame a client sends: its tag, then "ciphertext" of a real one's length.
  const frame = new Uint8Array(1 + Math.max(header.length, target.ciphertextBytes))
  frame[0] = APP_TAG
  const { written } = ascii.encodeInto(header, frame.subarray(1))
  frame.fill(A, 1 + written)
  return frame
}

let cursor = 0

let cursorEnd = 0

/** Reads the decimal field at `cursor` up to its 'x', and moves past it. */
function readField(payload: Buffer): number {
  let value = 0
  for (let code = payload[cursor++]; code !== X; code = payload[cursor++]) {
    if (code === undefined || cursor > cursorEnd) return -1
    value = value * 10 + code - ZERO
  }
  return value
}

/** Reads the header at `from` (just past the marker), straight from the bytes: no decoding. */
function observe(receiver: Receiver, payload: Buffer, from: number, end: number): void {
  cursor = from
  cursorEnd = end
  if (readField(payload) !== tally.step) return
  const sender = readField(payload)
  const seq = readField(payload)
  const sentAt = readField(payload)
  record(tally.histogram, nowMicros() - sentAt)
  tally.delivered += 1
  const expected = receiver.next[sender]
  if (expected !== undefined) {
    if (seq > expected) tally.gaps += seq - expected
    else if (seq < expected) tally.outOfOrder += 1
    if (seq >= expected) receiver.next[sender] = seq + 1
  }
  tally.onDelivery?.()
}

/** Counts the bench frames in what arrives; `takeOthers` says whether the rest is dropped too. */
export function tapFor(receiver: Receiver, takeOthers: () => boolean): Tap {
  return (bytes, start, end) => {
    const at = bytes.indexOf(MARKER_BYTES, start)
    if (at < 0 || at >= end) return takeOthers()
    observe(receiver, bytes, at + MARKER_BYTES.length, end)
    return true
  }
}
