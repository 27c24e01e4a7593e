// What outlives a reload: this tab's join, to rejoin without asking, and the name to suggest in any
// tab. Knows the Storage API and checks what it reads; nothing of the engine, the store or the DOM.
import * as v from 'valibot'

/** Survives a reload of this tab, and only this tab: the cue to rejoin without asking. */
const JOINED_KEY = 'chatbox:joined'
/** The name to suggest next time, in any tab. */
const LAST_NAME_KEY = 'chatbox:last-name'

const JoinedSchema = v.object({ name: v.string(), secret: v.optional(v.string()) })
export type Joined = v.InferOutput<typeof JoinedSchema>

export interface TabSession {
  /** The join this tab made before it was reloaded, if it made one and has not left since. */
  joined(): Joined | undefined
  /** A join went through: a reload rejoins it, and the name is suggested next time. */
  remember(name: string, secret: string | undefined): void
  /** Nothing to rejoin after a reload: the tab left, or its last join failed. */
  forget(): void
  /** The name last joined with in any tab, or ''. */
  lastName(): string
}

/** `tab` is this tab's storage (sessionStorage), `anyTab` the one all tabs share (localStorage). */
export function createTabSession(tab: Storage, anyTab: Storage): TabSession {
  return {
    joined() {
      const joined = v.safeParse(JoinedSchema, parseJson(tab.getItem(JOINED_KEY)))
      return joined.success ? joined.output : undefined
    },
    remember(name, secret) {
      try {
        anyTab.setItem(LAST_NAME_KEY, name)
        // The secret stays in this tab's storage only, so a reload can rejoin.
        tab.setItem(JOINED_KEY, JSON.stringify({ name, secret: secret || undefined }))
      } catch {
        // Storage can be full or disabled; rejoining then just means typing the name again.
      }
    },
    forget() {
      tab.removeItem(JOINED_KEY)
    },
    lastName() {
      try {
        return anyTab.getItem(LAST_NAME_KEY) ?? ''
      } catch {
        return ''
      }
    },
  }
}

function parseJson(text: string | null): unknown {
  if (text === null) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
