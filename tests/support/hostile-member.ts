// A member that speaks the protocol frame by frame over a real socket, with real MLS state, so a
// test can make it do what an honest client never would — and honestly whatever else it needs.
import type { CommitSendFrameSchema, ServerFrame } from '../../shared/protocol/frames.ts'
import {
  connectTls,
  connectWebSocket,
  join,
  type ServerAddress,
  type TestClient,
} from './harness.ts'
import { createMlsMember, type MlsMember } from './mls-member.ts'

type CommitRequest = Extract<ServerFrame, { type: 'commit-request' }>
type CommitFrame = Omit<import('valibot').InferOutput<typeof CommitSendFrameSchema>, 'type'>

export interface HostileMember extends AsyncDisposable {
  readonly name: string
  readonly mls: MlsMember
  readonly client: TestClient
  /** Every frame it received, in order, whether a test took it from the inbox or not. */
  readonly seen: ServerFrame[]
  /** Asks to be added and founds the group when the server asks it to. */
  found(): Promise<void>
  /** Asks to be added and joins from the Welcome that comes. */
  joinGroup(): Promise<void>
  /** The next commit-request sent to it. */
  nextRequest(): Promise<CommitRequest>
  /** Sends a commit frame for the request's epoch. */
  sendCommit(request: CommitRequest, commit: Omit<CommitFrame, 'epoch'>): void
  /** Answers the request as an honest client would, and merges once the log shows it won. */
  commitHonestly(request?: CommitRequest): Promise<void>
}

export async function startHostileMember(
  server: ServerAddress,
  name: string,
  kind: 'tls' | 'wss' = 'tls',
): Promise<HostileMember> {
  const mls = await createMlsMember(name)
  const client = kind === 'tls' ? await connectTls(server) : await connectWebSocket(server)
  const seen: ServerFrame[] = []
  const deliver = client.inbox.push.bind(client.inbox)
  client.inbox.push = (frame) => {
    seen.push(frame)
    deliver(frame)
  }
  await join(client, name, mls.identity)

  const member: HostileMember = {
    name,
    mls,
    client,
    seen,
    async found() {
      client.send({ type: 'key-package', keyPackage: await mls.keyPackage() })
      await client.inbox.take('found-request')
      client.send({ type: 'group-founded', groupInfo: await mls.found() })
    },
    async joinGroup() {
      client.send({ type: 'key-package', keyPackage: await mls.keyPackage() })
      const { welcome } = await client.inbox.take('welcome')
      await mls.join(welcome)
    },
    nextRequest: () => client.inbox.take('commit-request'),
    sendCommit(request, commit) {
      client.send({ type: 'commit', epoch: request.epoch, ...commit })
    },
    async commitHonestly(request) {
      const asked = request ?? (await member.nextRequest())
      const pending = await mls.commit({
        add: asked.add.map((item) => item.keyPackage),
        remove: asked.remove,
      })
      member.sendCommit(asked, {
        commit: pending.commit,
        welcome: pending.welcome,
        adds: pending.adds,
        removes: pending.removes,
      })
      await client.inbox.take('commit', (frame) => frame.commit === pending.commit)
      pending.merge()
    },
    async [Symbol.asyncDispose]() {
      client.close()
    },
  }
  return member
}
