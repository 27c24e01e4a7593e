// The bare reference the product is quoted against: Bun.serve over TLS 1.3 with one WebSocket room
// that only subscribes and publishes, no protocol. Run: bun bench/reference-server.ts --key F --cert F
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { announce } from './server-control.ts'

const { values } = parseArgs({
  options: { key: { type: 'string' }, cert: { type: 'string' }, host: { type: 'string' } },
})
if (!values.key || !values.cert) {
  console.error('usage: bun bench/reference-server.ts --key FILE --cert FILE [--host ADDRESS]')
  process.exit(2)
}

// Bun takes the TLS floor as a number (0x0304 = TLS 1.3) and its types do not list the option.
const tls13: { minVersion: number } = { minVersion: 0x0304 }
const ROOM = 'room'

const server = Bun.serve({
  hostname: values.host ?? '127.0.0.1',
  port: 0,
  tls: { key: readFileSync(values.key, 'utf8'), cert: readFileSync(values.cert, 'utf8'), ...tls13 },
  fetch(request, server) {
    if (server.upgrade(request)) return
    return new Response('expected a WebSocket upgrade\n', { status: 426 })
  },
  websocket: {
    // The product turns compression off too: both must do the same work per byte.
    perMessageDeflate: false,
    open(socket) {
      socket.subscribe(ROOM)
    },
    message(_socket, message) {
      // server.publish, not socket.publish: the sender gets its copy too, as in the product.
      server.publish(ROOM, message)
    },
  },
})

announce({ pid: process.pid, webPort: server.port as number }, () => {
  server.stop(true)
})
