// Hands the engine's events to every view listening; a listener that throws is reported and
// does not keep the others from hearing. Knows nothing of what the events mean.
import type { ChatEvent, ChatListener, WarningCode } from './events.ts'

export class EventHub {
  private readonly listeners = new Set<ChatListener>()

  on(listener: ChatListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  emit(event: ChatEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch (error) {
        console.error('a chat listener threw:', error)
      }
    }
  }

  warn(code: WarningCode, message: string): void {
    this.emit({ type: 'warning', code, message })
  }
}
