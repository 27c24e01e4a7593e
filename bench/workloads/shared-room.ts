// (r): one room shared through Redis, (a)'s ladder on sqlite, on one instance and on two.
import { cpus } from 'node:os'
import { serverCpuText } from '../measure.ts'
import { REDIS_DURABILITY, startRedis } from '../redis.ts'
import { fmt, ratio, table } from '../report.ts'
import { log, type Rig, type Workload } from '../rig.ts'
import { MESSAGE_BYTES } from '../settings.ts'
import { kneeStep, type Ladder, ladderWorkload, stepsTable } from './ladder.ts'

export interface SharedRooms {
  readonly redisVersion: string
  readonly durability: string
  readonly embedded: Ladder
  readonly oneInstance: Ladder
  readonly twoInstances: Ladder
}

/**
 * (a)'s ladder three times in a row: the product alone on sqlite, one instance on Redis, and two
 * instances on the same Redis with the members split between them. Redis shares the servers'
 * cores, as it is their work; the room is emptied before each configuration.
 */
export const sharedRoom: Workload<{ r: SharedRooms }> = {
  ids: ['r'],
  async run(rig) {
    const embedded = await rig.workload('r embedded', () =>
      ladderWorkload(rig, 'product', undefined, 'r-embedded'),
    )
    const redis = await startRedis(rig.placement.serverCores)
    log(`redis-server ${redis.version} at ${redis.url} (${REDIS_DURABILITY})`)
    try {
      const shared = (instances: number) => async () => {
        await redis.flush()
        return ladderWorkload(rig, 'product', undefined, `r-${instances}`, MESSAGE_BYTES, {
          redis,
          instances,
        })
      }
      const oneInstance = await rig.workload('r one instance + Redis', shared(1))
      const twoInstances = await rig.workload('r two instances + Redis', shared(2))
      return {
        r: {
          redisVersion: redis.version,
          durability: REDIS_DURABILITY,
          embedded,
          oneInstance,
          twoInstances,
        },
      }
    } finally {
      await redis.stop()
    }
  },
  // (r) compares the product with itself: no targets to show.
  report: (rig, { r }) => ({ markdown: ['', ...sharedRoomsReport(rig, r)], targets: [] }),
}

function sharedRoomsReport(rig: Rig, shared: SharedRooms): string[] {
  const { embedded, oneInstance, twoInstances } = shared
  const members = embedded.members
  const ladders: Array<[string, Ladder]> = [
    ['embedded (sqlite, one process)', embedded],
    ['one instance + Redis', oneInstance],
    ['two instances + Redis', twoInstances],
  ]
  const { serverCores, clientCores } = rig.placement
  const kneeRow = ([name, ladder]: [string, Ladder]) => {
    const step = kneeStep(ladder)
    return [
      name,
      ladder.knee === 0 ? `< ${fmt(rig.config.ladder.start)}` : fmt(ladder.knee),
      fmt(ladder.knee * ladder.members),
      fmt(step?.latency.p99Ms ?? Number.NaN),
      step ? serverCpuText(step.cpu) : '–',
      fmt(step?.cpu.redisPct ?? Number.NaN),
      fmt(step?.cpu.clientPct ?? Number.NaN),
      fmt(step?.cpu.otherPct ?? Number.NaN),
      ladder.firstFailure === undefined ? 'never (the ladder ended)' : fmt(ladder.firstFailure),
      fmt(ladder.joinMs),
    ]
  }
  return [
    `### (r) one room shared through Redis: (a)'s ladder, ${members} WebSocket clients`,
    '',
    `Redis ${shared.redisVersion} on the loopback with ${shared.durability}: every write on the ` +
      'disk before Redis acknowledges it, the durability the product documents. Emptied ' +
      `(FLUSHALL) before each configuration. With two instances, members 0–${members / 2 - 1} ` +
      `connect to the first and ${members / 2}–${members - 1} to the second; every member receives ` +
      `every message, so deliveries expected = messages × ${members} as in (a). The first ` +
      'instance to start holds the leader lease (the Delivery Service). Redis runs beside the ' +
      `servers (${serverCores === undefined ? 'unpinned' : coresText(serverCores)}); server CPU ` +
      'is per instance, first + second.',
    '',
    stepsTable(rig, ladders, true),
    '',
    table(
      [
        'configuration',
        'knee msg/s',
        'knee deliveries/s',
        'p99 at knee ms',
        'server CPU % at knee',
        'Redis CPU %',
        'client CPU %',
        'other CPU %',
        'first failure msg/s',
        'members joined in ms',
      ],
      ladders.map(kneeRow),
    ),
    '',
    table(
      ['ratio of knees', 'deliveries/s'],
      [
        ['two instances ÷ one instance, both on Redis', ratio(twoInstances.knee, oneInstance.knee)],
        ['one instance on Redis ÷ embedded', ratio(oneInstance.knee, embedded.knee)],
        ['two instances on Redis ÷ embedded', ratio(twoInstances.knee, embedded.knee)],
      ],
    ),
    '',
    `This machine has ${cpus().length} cores: ${
      serverCores === undefined
        ? 'nothing is pinned, so servers, Redis and the load client compete for all of them'
        : `both instances and Redis share ${coresText(serverCores)} and the load client runs on ${coresText(clientCores ?? '')}`
    }, so the two-instance knee is CPU-starved: it shows what sharing the room costs, not what a second machine would add.`,
  ]
}

function coresText(cores: string): string {
  return cores.includes('-') ? `cores ${cores}` : `core ${cores}`
}
