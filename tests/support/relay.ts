// A TLS-terminating relay for the raw TLS port: clients trust it (it holds a certificate from the
// same test CA), it opens its own TLS link to the real server, records every plaintext byte both
// ways, and can rewrite, drop, repeat or reorder frames. It plays the eavesdropper who broke TLS
// and the malicious server.
import type { Socket, TCPSocketListener } from 'bun'
import { decodeServerFrame, encodeFrame } from '../../shared/protocol/codec.ts'
import type { ServerFrame } from '../../shared/protocol/frames.ts'
import { createFrameDecoder, encodeLengthPrefixed } from '../../shared/protocol/framing.ts'
import { type TestServer, testCertificates } from './harness.ts'

/** Rewrites a frame on its way from the server to the client: return the frames to pass on. */
export type Tamper = (frame: ServerFrame) => ServerFrame[]

export interface Relay extends AsyncDisposable {
  readonly port: number
  /** Every byte that crossed the relay, in the clear, both directions. */
  readonly recorded: Uint8Array[]
  /** Frames from the server, as the client was meant to get them. */
  readonly fromServer: ServerFrame[]
  tamper: Tamper
  /** Sends a frame to every client as if the server had. */
  inject(frame: ServerFrame): void
}

interface Link {
  upstream?: Socket<undefined>
  pending: Uint8Array[]
  decoder: ReturnType<typeof createFrameDecoder>
}

export async function startRelay(server: TestServer): Promise<Relay> {
  const certs = await testCertificates()
  const recorded: Uint8Array[] = []
  const fromServer: ServerFrame[] = []
  const clients = new Set<Socket<Link>>()
  const relay: Relay = {
    port: 0,
    recorded,
    fromServer,
    tamper: (frame) => [frame],
    inject(frame) {
      for (const client of clients) client.write(encodeLengthPrefixed(encodeFrame(frame)))
    },
    async [Symbol.asyncDispose]() {
      listener.stop(true)
      for (const client of clients) client.terminate()
    },
  }

  const listener: TCPSocketListener<Link> = Bun.listen<Link>({
    hostname: '127.0.0.1',
    port: 0,
    tls: { key: certs.key, cert: certs.cert },
    socket: {
      async open(client) {
        client.data = { pending: [], decoder: createFrameDecoder(1 << 26) }
        clients.add(client)
        const upstream = await Bun.connect({
          hostname: '127.0.0.1',
          port: server.termPort,
          tls: { ca: certs.ca, serverName: 'localhost' },
          socket: {
            handshake(socket) {
              client.data.upstream = socket
              for (const bytes of client.data.pending) socket.write(bytes)
              client.data.pending = []
            },
            data(_socket, chunk) {
              recorded.push(new Uint8Array(chunk))
              for (const body of client.data.decoder.push(chunk).frames) {
                const decoded = decodeServerFrame(new TextDecoder().decode(body))
                if (!decoded.ok) continue
                fromServer.push(decoded.frame)
                for (const out of relay.tamper(decoded.frame)) {
                  client.write(encodeLengthPrefixed(encodeFrame(out)))
                }
              }
            },
            close: () => void client.end(),
          },
        })
        void upstream
      },
      data(client, chunk) {
        recorded.push(new Uint8Array(chunk))
        if (client.data.upstream) client.data.upstream.write(chunk)
        else client.data.pending.push(new Uint8Array(chunk))
      },
      close(client) {
        clients.delete(client)
        client.data.upstream?.end()
      },
    },
  })
  return Object.assign(relay, { port: listener.port })
}

/** Whether `needle` occurs in any recorded chunk or across the whole recording. */
export function containsBytes(haystack: Uint8Array[], needle: Uint8Array): boolean {
  const total = haystack.reduce((sum, chunk) => sum + chunk.length, 0)
  const all = new Uint8Array(total)
  let offset = 0
  for (const chunk of haystack) {
    all.set(chunk, offset)
    offset += chunk.length
  }
  return Buffer.from(all).includes(Buffer.from(needle))
}
