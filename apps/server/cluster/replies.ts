// Sending a command to Redis and reading its reply: every reply is parsed with a valibot schema
// where it arrives, never cast. Knows no keys, scripts or room logic.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import { storedJsonToWire } from '../../../shared/protocol/codec.ts'
import type { LoggedEntry } from '../room/ports.ts'

/**
 * Sends a command; while Redis is away Bun's client throws at once instead of rejecting (the
 * offline queue is off), and this makes that a rejection like any other failure.
 */
export function sendCommand(redis: RedisClient, command: string, args: string[]): Promise<unknown> {
  try {
    return redis.send(command, args)
  } catch (error) {
    return Promise.reject(error)
  }
}

/** Sends a command and parses its reply; a reply of another shape is a rejection that says so. */
export async function query<TSchema extends v.GenericSchema>(
  redis: RedisClient,
  schema: TSchema,
  command: string,
  args: string[],
): Promise<v.InferOutput<TSchema>> {
  return parseReply(schema, await sendCommand(redis, command, args), command)
}

export function parseReply<TSchema extends v.GenericSchema>(
  schema: TSchema,
  reply: unknown,
  command: string,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, reply)
  if (result.success) return result.output
  throw new Error(`Redis answered ${command} unexpectedly: ${result.issues[0].message}`)
}

/** Parses text stored in Redis as JSON of this shape; malformed text is a thrown error. */
export function parseStored<TSchema extends v.GenericSchema>(
  schema: TSchema,
  text: string,
): v.InferOutput<TSchema> {
  return v.parse(schema, JSON.parse(text))
}

/** An integer reply (counters, scripts that return a number, HSETNX). */
export const IntegerReply = v.number()

/** A string or nothing (GET, HGET, SET … NX). */
export const TextReply = v.nullable(v.string())

/** A stream entry: [id, [field, value, …]]; the room's entries hold one field, `f`. */
const StreamEntrySchema = v.tuple([v.string(), v.array(v.string())])
export type StreamEntry = v.InferOutput<typeof StreamEntrySchema>
export const StreamEntriesReply = v.array(StreamEntrySchema)

/** The value of the entry's one field. */
export function fieldOf([, fields]: StreamEntry): string {
  return fields[1] ?? ''
}

/** A log entry: its id is `<seq>-0`, its field the frame as JSON (binary on the wire). */
export function decodeLogEntry(entry: StreamEntry): LoggedEntry {
  return { seq: Number.parseInt(entry[0], 10), wire: storedJsonToWire(fieldOf(entry)) }
}

const isMap = (input: unknown): input is Record<string, unknown> =>
  typeof input === 'object' && input !== null && !Array.isArray(input)

/**
 * HGETALL's values, whatever the fields: a map in RESP3, a flat list of field, value, … in RESP2.
 * Read without valibot's record(), which drops fields such as `constructor` (a valid name).
 */
export const HashValuesReply = v.union([
  v.pipe(
    v.array(v.string()),
    v.transform((flat) => flat.filter((_, index) => index % 2 === 1)),
  ),
  v.pipe(v.custom<Record<string, unknown>>(isMap), v.transform(Object.values), v.array(v.string())),
])

/** HGETALL as [field, value] pairs: a map in RESP3, a flat list in RESP2. */
export const HashEntriesReply = v.union([
  v.pipe(
    v.array(v.string()),
    v.transform((flat) =>
      flat.flatMap((field, index): [string, string][] =>
        index % 2 === 0 ? [[field, flat[index + 1] ?? '']] : [],
      ),
    ),
  ),
  v.pipe(
    v.custom<Record<string, unknown>>(isMap),
    v.transform(Object.entries),
    v.array(v.tuple([v.string(), v.string()])),
  ),
])

const StreamPairs = v.array(v.tuple([v.string(), StreamEntriesReply]))

/** XREAD: stream → entries, a map in RESP3 or pairs in RESP2; null when nothing came. */
export const StreamsReply = v.pipe(
  v.union([
    v.pipe(v.custom<Record<string, unknown>>(isMap), v.transform(Object.entries), StreamPairs),
    StreamPairs,
    v.pipe(
      v.null(),
      v.transform((): [string, StreamEntry[]][] => []),
    ),
  ]),
  v.transform((pairs) => new Map(pairs)),
)
