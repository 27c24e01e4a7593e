// Why an address did not answer as a chatbox terminal port: is it a web server (chatbox's own
// HTTPS port, most likely)? Asked only after a join failed, so the usual start pays nothing.
// No chat logic here.
import type { ServerAddress } from './options.ts'

/** Long enough for a server across the world; a port that says nothing is no web server. */
const ANSWER_WAIT_MS = 3000

/**
 * Whether the address answers an HTTP request over TLS with an HTTP response. The terminal port
 * reads the request as an impossible frame length and hangs up, so it never looks like one.
 */
export function speaksHttps(address: ServerAddress, ca: string[] | undefined): Promise<boolean> {
  const { promise, resolve } = Promise.withResolvers<boolean>()
  const timer = setTimeout(() => resolve(false), ANSWER_WAIT_MS)
  let answer = ''
  const done = (value: boolean) => {
    clearTimeout(timer)
    resolve(value)
  }
  Bun.connect({
    hostname: address.host,
    port: address.port,
    tls: { ca, serverName: address.host, rejectUnauthorized: true },
    socket: {
      handshake(socket, success) {
        if (!success) {
          socket.terminate()
          done(false)
          return
        }
        socket.write(`HEAD / HTTP/1.1\r\nHost: ${address.label}\r\nConnection: close\r\n\r\n`)
      },
      data(socket, chunk) {
        answer += new TextDecoder().decode(chunk)
        if (answer.length >= 5) {
          socket.terminate()
          done(answer.startsWith('HTTP/'))
        }
      },
      close: () => done(answer.startsWith('HTTP/')),
      error: () => done(false),
      connectError: () => done(false),
    },
  }).catch(() => done(false))
  return promise
}
