// Text ⇄ frame: the one place JSON is parsed and checked against the schemas.
import * as v from 'valibot'
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

function decodeWith<T>(schemaFor: (json: unknown) => Schema<T>, text: string): Decoded<T> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, code: 'bad_json', message: 'the frame is not valid JSON' }
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

export function decodeClientFrame(text: string): Decoded<ClientFrame> {
  return decodeWith(clientSchemaFor, text)
}

export function decodeServerFrame(text: string): Decoded<ServerFrame> {
  return decodeWith(serverSchemaFor, text)
}

export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame)
}
