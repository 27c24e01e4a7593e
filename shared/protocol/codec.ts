// Wire ⇄ frame: the one place frames are parsed (JSON text, or the binary form of the frames
// that carry MLS bytes) and checked against the schemas.
import * as v from 'valibot'
import {
  BinaryFrameError,
  type Direction,
  decodeBinaryFrame,
  encodeBinaryFrame,
  isBinaryType,
  type WireFrame,
} from './binary.ts'
import {
  type ClientFrame,
  ClientFrameSchema,
  type ErrorCode,
  type ServerFrame,
  ServerFrameSchema,
} from './frames.ts'

export type Decoded<T> =
  | { readonly ok: true; readonly frame: T }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string }

type Schema<T> = v.GenericSchema<unknown, T>

/**
 * The variant's member for a frame's `type`, found by lookup: `v.variant` tries its options in
 * order and formats an issue for every miss, which was a fifth of the server's decoding time.
 * An unknown or missing type goes to the whole variant, for its precise error.
 */
function byType<T>(variant: Schema<T> & { options: readonly Schema<unknown>[] }) {
  const table = new Map<unknown, Schema<T>>()
  type Option = { entries?: { type: { literal: unknown } }; options?: readonly Option[] }
  // A nested variant (presence, keyed by `event`) shares one `type` across its options.
  const typeOf = (option: Option): unknown => {
    const nested = option.options?.[0]
    return option.entries?.type.literal ?? (nested ? typeOf(nested) : undefined)
  }
  for (const option of variant.options) table.set(typeOf(option as Option), option as Schema<T>)
  return (json: unknown): Schema<T> =>
    table.get((json as { type?: unknown } | null)?.type) ?? variant
}

const clientSchemaFor = byType<ClientFrame>(ClientFrameSchema)
const serverSchemaFor = byType<ServerFrame>(ServerFrameSchema)

export type { WireFrame }

function decodeWith<T>(
  schemaFor: (json: unknown) => Schema<T>,
  wire: WireFrame,
  direction: Direction,
): Decoded<T> {
  let json: unknown
  if (typeof wire === 'string') {
    try {
      json = JSON.parse(wire)
    } catch {
      return { ok: false, code: 'bad_json', message: 'the frame is not valid JSON' }
    }
  } else {
    try {
      json = decodeBinaryFrame(wire, direction)
    } catch (error) {
      if (!(error instanceof BinaryFrameError)) throw error
      return {
        ok: false,
        code: 'bad_frame',
        message: `the binary frame is malformed: ${error.message}`,
      }
    }
  }
  const result = v.safeParse(schemaFor(json), json)
  if (result.success) return { ok: true, frame: result.output }
  const issue = result.issues[0]
  const path = issue?.path?.map((item) => String(item.key)).join('.')
  return {
    ok: false,
    code: 'bad_frame',
    message: `the frame does not match the protocol${path ? ` at ${path}` : ''}: ${issue?.message}`,
  }
}

/**
 * A client's frame. Frames that carry MLS bytes come as binary; their JSON form (what clients sent
 * before binary frames) is still read, and checked by the same schema.
 */
export function decodeClientFrame(wire: WireFrame): Decoded<ClientFrame> {
  return decodeWith(clientSchemaFor, wire, 'to-server')
}

export function decodeServerFrame(wire: WireFrame): Decoded<ServerFrame> {
  return decodeWith(serverSchemaFor, wire, 'to-client')
}

/** Binary for the frames that carry MLS bytes, JSON text for the rest. */
export function encodeFrame(frame: ClientFrame | ServerFrame): WireFrame {
  return isBinaryType(frame.type) ? encodeBinaryFrame(frame) : JSON.stringify(frame)
}

/**
 * A frame a store keeps as JSON text (Redis does, to stamp its sequence number in a script), as it
 * goes on the wire: binary when its type is. Text that is not such a frame goes as it is, and the
 * client that receives it reports it.
 */
export function storedJsonToWire(text: string): WireFrame {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return text
  }
  const type = (json as { type?: unknown } | null)?.type
  if (typeof type !== 'string' || !isBinaryType(type)) return text
  try {
    return encodeBinaryFrame(json as { type: string })
  } catch {
    return text
  }
}
