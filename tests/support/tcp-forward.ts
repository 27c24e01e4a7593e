// A TCP forwarder on a free port that a test can stall, cut or point elsewhere: it plays the
// network between Redis and its replica (a link that stalls) and the stable address that follows
// the primary after a failover (a virtual IP or a TCP proxy such as HAProxy).
import { createServer, type Socket, connect as tcpConnect } from 'node:net'

export interface TcpForward extends AsyncDisposable {
  readonly port: number
  /** New connections go to this port from now on; open ones are cut. */
  retarget(port: number): void
  /** Stops reading from the target: what it sends piles up unsent, as over a stalled link. */
  hold(): void
  /** Reads from the target again: what piled up goes on, as a stalled link that recovers. */
  release(): void
  /** Drops what was held and closes every connection through the forwarder. */
  cut(): void
}

export async function startTcpForward(targetPort: number): Promise<TcpForward> {
  let target = targetPort
  let held = false
  const pairs = new Set<{ client: Socket; upstream: Socket }>()

  const server = createServer((client) => {
    const upstream = tcpConnect({ host: '127.0.0.1', port: target })
    const pair = { client, upstream }
    pairs.add(pair)
    client.pipe(upstream)
    if (held) upstream.pause()
    else upstream.pipe(client)
    const close = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) {
      socket.on('error', close)
      socket.on('close', close)
    }
  })
  const { promise: listening, resolve } = Promise.withResolvers<void>()
  server.listen(0, '127.0.0.1', resolve)
  await listening
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP port')

  function cut(): void {
    for (const { client, upstream } of pairs) {
      // Destroyed, not ended: bytes held back must never reach the other side.
      upstream.destroy()
      client.destroy()
    }
    pairs.clear()
  }

  return {
    port: address.port,
    retarget(port) {
      target = port
      cut()
    },
    hold() {
      held = true
      // Unpiped as well as paused: a pipe resumes its source whenever the destination drains.
      for (const { client, upstream } of pairs) {
        upstream.unpipe(client)
        upstream.pause()
      }
    },
    release() {
      held = false
      for (const { client, upstream } of pairs) upstream.pipe(client)
    },
    cut() {
      held = false
      cut()
    },
    async [Symbol.asyncDispose]() {
      cut()
      const { promise, resolve: closed } = Promise.withResolvers<void>()
      server.close(() => closed())
      await promise
    },
  }
}
