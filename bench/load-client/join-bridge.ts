// What the load client and its join worker (join-worker.ts) say to each other: the worker's
// engines ask for their links to be opened and their frames sent; the client passes on what the
// server sends them, decoded, until the members have joined and the worker is let go.
import type { WireFrame } from '../../shared/protocol/codec.ts'
import type { ServerFrame } from '../../shared/protocol/frames.ts'

export type ToJoinWorker =
  | { readonly type: 'join'; readonly names: readonly string[]; readonly groupSize: number }
  | { readonly type: 'opened'; readonly member: number }
  | { readonly type: 'open-failed'; readonly member: number; readonly message: string }
  | { readonly type: 'frame'; readonly member: number; readonly frame: ServerFrame }
  | { readonly type: 'invalid'; readonly member: number; readonly message: string }
  | { readonly type: 'closed'; readonly member: number; readonly reason: string }

export type FromJoinWorker =
  | { readonly type: 'open'; readonly member: number }
  | { readonly type: 'send'; readonly member: number; readonly wire: WireFrame }
  | { readonly type: 'joined' }
  | { readonly type: 'failed'; readonly message: string }
