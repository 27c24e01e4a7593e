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

function decodeWith<T>(schema: v.GenericSchema<unknown, T>, text: string): Decoded<T> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, code: 'bad_json', message: 'the frame is not valid JSON' }
  }
  const result = v.safeParse(schema, json)
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
  return decodeWith(ClientFrameSchema, text)
}

export function decodeServerFrame(text: string): Decoded<ServerFrame> {
  return decodeWith(ServerFrameSchema, text)
}

export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame)
}
