// A TLS-terminating relay for the raw TLS port: clients trust it (it holds a certificate from the
// same test CA), it opens its own TLS link to the real server, records every plaintext byte both
// ways, and can rewrite, drop, repeat or reorder frames. It plays the eavesdropper who broke TLS
// and the malicious server. The byte plumbing is the tap's (tap.ts); this adds the frames.
import { wireOfBody } from '../../shared/protocol/binary.ts'
import { decodeServerFrame, encodeFrame } from '../../shared/protocol/codec.ts'
import type { ServerFrame } from '../../shared/protocol/frames.ts'
import { createFrameDecoder, encodeLengthPrefixed } from '../../shared/protocol/framing.ts'
import { type TestServer, testCertificates } from './harness.ts'
import { joinBytes, startTap } from './tap.ts'

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

export async function startRelay(server: TestServer): Promise<Relay> {
  const certs = await testCertificates()
  const fromServer: ServerFrame[] = []
  const encode = (frame: ServerFrame) => encodeLengthPrefixed(encodeFrame(frame))
  const tap = startTap({
    port: server.termPort,
    tls: certs,
    rewrite() {
      const decoder = createFrameDecoder(1 << 26)
      return (chunk) =>
        joinBytes(
          decoder.push(chunk).frames.flatMap((body) => {
            const decoded = decodeServerFrame(wireOfBody(body))
            if (!decoded.ok) return []
            fromServer.push(decoded.frame)
            return relay.tamper(decoded.frame).map(encode)
          }),
        )
    },
  })
  const relay: Relay = {
    port: tap.port,
    recorded: tap.recorded.both,
    fromServer,
    tamper: (frame) => [frame],
    inject: (frame) => tap.toClients(encode(frame)),
    [Symbol.asyncDispose]: () => tap[Symbol.asyncDispose](),
  }
  return relay
}

/** Whether `needle` occurs in any recorded chunk or across the whole recording. */
export function containsBytes(haystack: Uint8Array[], needle: Uint8Array): boolean {
  return Buffer.from(joinBytes(haystack)).includes(Buffer.from(needle))
}
