// Keeps the member's group state on the device: read once at start, written when it changed, and
// for bursts of messages (each moves the ratchet) once after the burst. Knows nothing of the room.
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import type { Clock, Timer } from './clock.ts'
import { type ClientState, decodeState, encodeState, groupIdOf } from './mls.ts'
import type { GroupStateStore } from './stores.ts'

const SAVE_DELAY_MS = 300

export interface SavedGroup {
  readonly group: ClientState
  readonly lastSeq: number
}

export class GroupSaver {
  private saved: SavedGroup | undefined
  private timer: Timer | undefined

  constructor(
    private readonly store: GroupStateStore,
    private readonly clock: Clock,
    /** What to save when the time comes: the member's state, or nothing outside the group. */
    private readonly current: () => SavedGroup | undefined,
    private readonly failed: (error: unknown) => void,
  ) {}

  /** The saved state; undefined when there is none, and cleared when it cannot be read. */
  async load(): Promise<SavedGroup | 'damaged' | undefined> {
    const snapshot = await this.store.load()
    if (!snapshot) return undefined
    try {
      return { group: decodeState(decodeBase64url(snapshot.state)), lastSeq: snapshot.lastSeq }
    } catch {
      await this.store.clear()
      return 'damaged'
    }
  }

  /** Saves what changed since the last save: ts-mls states are immutable, so identity tells. */
  async save(): Promise<void> {
    this.cancel()
    const now = this.current()
    if (!now || (this.saved?.group === now.group && this.saved.lastSeq === now.lastSeq)) return
    this.saved = now
    await this.store.save({
      groupId: groupIdOf(now.group),
      lastSeq: now.lastSeq,
      state: encodeBase64url(encodeState(now.group)),
    })
  }

  /** Once, a moment from now, for however many changes come meanwhile. */
  saveSoon(): void {
    if (this.timer) return
    this.timer = this.clock.setTimeout(() => void this.save().catch(this.failed), SAVE_DELAY_MS)
  }

  async clear(): Promise<void> {
    this.cancel()
    await this.store.clear()
  }

  private cancel(): void {
    this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }
}
