// A ladder whose members are spread over two load clients: one MLS group across both processes,
// every frame counted by every receiver, with each sender known by its run-wide number.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createRig, memberShare, type Rig } from '../rig.ts'
import { QUICK, type Settings } from '../settings.ts'
import { ladderWorkload } from './ladder.ts'

const RATE = 400

const settings: Settings = {
  config: { ...QUICK, ladder: { ...QUICK.ladder, stepMs: 1000, drainMs: 2000 } },
  only: new Set(['a']),
  fixedRates: [RATE],
  sameBytes: false,
  referenceBytes: [],
  profile: false,
  waitQuiet: false,
  memoryStore: true,
  ladderClients: 2,
  serverEnv: {},
  soak: { minutes: 1, nice: 0 },
}

describe('members spread over load clients', () => {
  test('each client holds a contiguous share, together all of them once', () => {
    expect([0, 1, 2].map((index) => memberShare(index, 3, 64))).toEqual([
      { from: 0, to: 21 },
      { from: 21, to: 42 },
      { from: 42, to: 64 },
    ])
    expect(memberShare(0, 1, 64)).toEqual({ from: 0, to: 64 })
  })

  let rig: Rig
  beforeAll(async () => {
    rig = await createRig(settings)
  })
  afterAll(() => rig.close())

  test('two clients join one group and every receiver gets every frame, none out of order', async () => {
    // Half the members on raw TLS, as (b): both transports, over both clients.
    const ladder = await ladderWorkload(rig, 'product', 2, 'test')
    expect(ladder.members).toBe(64)
    const [step] = ladder.steps
    expect(step?.rate).toBe(RATE)
    // Frames from both clients' senders reach all 64 members; a sender numbered by its client
    // alone would collide with the other client's: its frames would seem to go back in order.
    expect(step?.sentPerSecond).toBe(RATE)
    expect(step?.deliveredPerSecond).toBe(RATE * 64)
    expect(step?.lost).toBe(0)
    expect(step?.gaps).toBe(0)
    expect(step?.outOfOrder).toBe(0)
    expect(step?.closed).toBe(0)
  }, 120_000)
})
