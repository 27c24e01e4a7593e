// Connections open at once from each address (an IPv6 /64), over both listeners: up to the cap
// they are let in; past it they are told so and closed; with as many again being refused (a flood
// that may never finish its handshake), the rest are cut before any TLS work. Knows addresses,
// not sockets.
import { type ErrorFrame, errorFrame } from '../../../shared/protocol/frames.ts'
import { type EventSink, ignoreEvents } from '../observe/events.ts'
import { addressGroup } from '../room/name-quota.ts'

/** What becomes of a new socket: 'admit' and 'refuse' are counted until it closes; 'cut' is not. */
export type Arrival = 'admit' | 'refuse' | 'cut'

export interface ConnectionBook {
  /** A socket from `address` opened. */
  arrive(address: string): Arrival
  /** A socket that `arrive` counted ('admit' or 'refuse') is gone. */
  leave(address: string, arrival: Arrival): void
  /** What a refused connection is told before it is closed. */
  readonly refusal: ErrorFrame
}

/** Sockets open from one address group; refused ones apart, so they never hold an admitted slot. */
interface OpenCount {
  admit: number
  refuse: number
}

/** `events`: the operator's log, told of each socket refused or cut. */
export function createConnectionBook(
  maxPerAddress: number,
  events: EventSink = ignoreEvents,
): ConnectionBook {
  /** By address group; a group with nothing open is not kept. */
  const open = new Map<string, OpenCount>()
  return {
    arrive(address) {
      const group = addressGroup(address)
      let count = open.get(group)
      if (!count) {
        count = { admit: 0, refuse: 0 }
        open.set(group, count)
      }
      const arrival =
        count.admit < maxPerAddress ? 'admit' : count.refuse < maxPerAddress ? 'refuse' : 'cut'
      if (arrival !== 'cut') count[arrival] += 1
      if (arrival !== 'admit')
        events({ event: 'refused', code: 'rate_limited', fatal: true, address })
      return arrival
    },
    leave(address, arrival) {
      const group = addressGroup(address)
      const count = open.get(group)
      if (!count || arrival === 'cut') return
      count[arrival] -= 1
      if (count.admit + count.refuse === 0) open.delete(group)
    },
    refusal: errorFrame(
      'rate_limited',
      `too many connections from your address (${maxPerAddress} open); close one and try again`,
      true,
    ),
  }
}
