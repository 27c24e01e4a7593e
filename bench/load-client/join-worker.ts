// The MLS engines of a load client's members, in a Worker of their own for the join only. Run in
// the load client's own heap, the engines left behind ~4 MB of compiled code and twice the live
// heap once they were gone, and each of the client's collections during a step then took about
// three times as long (up to 9 ms): enough to blur a 10 ms p99. A Worker's heap goes with it.
// The sockets stay with the load client; frames cross as messages (join-bridge.ts).
import { createMemoryStores } from '../../shared/client/memory-stores.ts'
import { createChatSession } from '../../shared/client/session.ts'
import type { TransportEvents } from '../../shared/client/transport.ts'
import type { FromJoinWorker, ToJoinWorker } from './join-bridge.ts'

declare const self: Worker

const links = new Map<number, TransportEvents>()
const opened = new Map<number, PromiseWithResolvers<void>>()
const post = (message: FromJoinWorker) => self.postMessage(message)

self.onmessage = (event: MessageEvent<ToJoinWorker>) => {
  const message = event.data
  switch (message.type) {
    case 'join':
      join(message.names, message.groupSize).then(
        () => post({ type: 'joined' }),
        (error: Error) => post({ type: 'failed', message: error.message }),
      )
      return
    case 'opened':
      opened.get(message.member)?.resolve()
      return
    case 'open-failed':
      opened.get(message.member)?.reject(new Error(message.message))
      return
    case 'frame':
      links.get(message.member)?.frame(message.frame)
      return
    case 'invalid':
      links.get(message.member)?.invalid(message.message)
      return
    case 'closed':
      links.get(message.member)?.closed(message.reason)
      return
  }
}

async function join(names: readonly string[], groupSize: number): Promise<void> {
  const joined = names.map((name, member) => {
    const session = createChatSession({
      connect: async (events) => {
        links.set(member, events)
        const open = Promise.withResolvers<void>()
        opened.set(member, open)
        post({ type: 'open', member })
        await open.promise
        return {
          send: (wire) => post({ type: 'send', member, wire }),
          close: () => {},
        }
      },
      name,
      stores: createMemoryStores(),
      reconnect: false,
    })
    let groupMembers = 0
    session.on((event) => {
      if (event.type === 'membership') groupMembers = event.members.length
    })
    return { session, size: () => groupMembers }
  })
  await Promise.all(joined.map(({ session }) => session.connect().then(() => session.whenReady())))
  // Every member must have processed the last commit before load starts, or its MLS work would
  // run during the measured step.
  const deadline = Date.now() + 300_000
  for (;;) {
    const epochs = new Set(joined.map(({ session }) => session.epoch()))
    if (joined.every(({ size }) => size() === groupSize) && epochs.size === 1) return
    if (Date.now() > deadline) throw new Error('the members never converged on one group')
    await Bun.sleep(20)
  }
}
