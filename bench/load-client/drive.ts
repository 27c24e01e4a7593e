// Load through a client's members: the open-loop clock, collecting deliveries, closed-loop bursts.
import { createHistogram, record, toSparse } from '../histogram.ts'
import type { ClientReply } from '../ipc.ts'
import { frameFor, senderNumber, senders } from './connections.ts'
import { arm, nowMicros, receivers, tally } from './tally.ts'

/** A closed-loop round that has not completed by then lost a message: the run stops there. */
const ROUND_TIMEOUT_MS = 5_000

/**
 * Open loop: message k is due at k / rate seconds whatever the replies do. Each timer tick sends
 * all that are due, stamped with the time they leave, so a client that falls behind shows up as
 * `lateMs` (how far behind its clock it was at worst), not as server latency.
 */
export async function sendOpenLoop(
  sendStep: number,
  rate: number,
  total: number,
): Promise<{ sent: number; elapsedMs: number; lateMs: number }> {
  const started = nowMicros()
  const intervalMicros = 1_000_000 / rate
  let sent = 0
  let lateMs = 0
  for (;;) {
    const now = nowMicros()
    const due = Math.min(total, Math.floor((now - started) / intervalMicros) + 1)
    if (due > sent) lateMs = Math.max(lateMs, (now - (started + sent * intervalMicros)) / 1000)
    for (; sent < due; sent += 1) {
      const index = sent % senders.length
      const sender = senderNumber(index)
      const seq = tally.seqs[sender] as number
      tally.seqs[sender] = seq + 1
      senders[index]?.send(frameFor(sendStep, sender, seq, nowMicros()))
    }
    if (sent >= total) break
    // Timers fire at 1 ms granularity at best; a shorter sleep would only spin.
    await Bun.sleep(Math.max(1, (started + sent * intervalMicros - nowMicros()) / 1000))
  }
  return { sent, elapsedMs: (nowMicros() - started) / 1000, lateMs }
}

export async function collect(
  expectedPerReceiver: number,
  timeoutMs: number,
): Promise<ClientReply> {
  const started = performance.now()
  const expected = expectedPerReceiver * receivers.length
  while (tally.delivered < expected && performance.now() - started < timeoutMs) await Bun.sleep(5)
  return {
    type: 'collected',
    receivers: receivers.length,
    delivered: tally.delivered,
    expected,
    gaps: tally.gaps,
    outOfOrder: tally.outOfOrder,
    closed: receivers.filter((receiver) => receiver.closed).length,
    histogram: toSparse(tally.histogram),
    max: tally.histogram.max,
    elapsedMs: performance.now() - started,
  }
}

/** Bun's chat benchmark: every member sends one message, all wait for all, then again. */
export async function bursts(burstStep: number, durationMs: number): Promise<ClientReply> {
  arm(burstStep, senderNumber(senders.length))
  const rounds = createHistogram()
  const perRound = senders.length * receivers.length
  const started = performance.now()
  const done = Promise.withResolvers<void>()
  let round = 0
  let inRound = 0
  let roundStarted = 0
  const startRound = () => {
    inRound = 0
    roundStarted = nowMicros()
    const seq = round
    round += 1
    for (let index = 0; index < senders.length; index += 1) {
      senders[index]?.send(frameFor(burstStep, senderNumber(index), seq, roundStarted))
    }
  }
  tally.onDelivery = () => {
    inRound += 1
    if (inRound < perRound) return
    record(rounds, nowMicros() - roundStarted)
    if (performance.now() - started < durationMs) setImmediate(startRound)
    else done.resolve()
  }
  const watchdog = setInterval(() => {
    if (nowMicros() - roundStarted > ROUND_TIMEOUT_MS * 1000) done.resolve()
  }, 100)
  startRound()
  await done.promise
  clearInterval(watchdog)
  tally.onDelivery = undefined
  return {
    type: 'bursts-done',
    rounds: rounds.count,
    deliveries: tally.delivered,
    elapsedMs: performance.now() - started,
    roundHistogram: toSparse(rounds),
    roundMax: rounds.max,
    histogram: toSparse(tally.histogram),
    max: tally.histogram.max,
    closed: receivers.filter((receiver) => receiver.closed).length,
  }
}
