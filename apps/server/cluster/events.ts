// What instances tell each other through the events stream, and what the presence hash holds.
// Every instance reads every event and acts on those meant for it; the schemas are the one source
// of their types.
import * as v from 'valibot'
import {
  CommitRefusedFrameSchema,
  CommitSendFrameSchema,
  DeviceLinksSchema,
  GroupFoundedFrameSchema,
  GroupStatusSchema,
  KeyPackageSendFrameSchema,
  MemberSchema,
  PresenceFrameSchema,
  ServerFrameSchema,
} from '../../../shared/protocol/frames.ts'

const Instance = v.pipe(v.string(), v.minLength(1), v.maxLength(100))
const Name = MemberSchema.entries.name

export const ClusterEventSchema = v.variant('type', [
  /** Delivered to every member as it is. */
  PresenceFrameSchema,
  /** The member connected again through another instance: `instance` closes its old connection. */
  v.object({ type: v.literal('displace'), ...MemberSchema.entries, instance: Instance }),
  /** A frame for one member's device, wherever it is connected; sent by the Delivery Service's leader. */
  v.object({ type: v.literal('direct'), to: MemberSchema, frame: ServerFrameSchema }),
  /** A member's request to the Delivery Service, for the leader, with the key it proved. */
  v.object({
    type: v.literal('ds'),
    from: MemberSchema,
    frame: v.variant('type', [
      KeyPackageSendFrameSchema,
      GroupFoundedFrameSchema,
      CommitSendFrameSchema,
      CommitRefusedFrameSchema,
    ]),
  }),
  /** The leader's group changed: every instance lets only its members send messages. */
  v.object({ type: v.literal('group'), status: v.nullable(GroupStatusSchema) }),
  /**
   * The admin put a member out: the instance holding its connection closes it with the reason,
   * and the leader has its leaf removed by the next commit.
   */
  v.object({ type: v.literal('expel'), name: Name, reason: v.picklist(['banned', 'released']) }),
  /**
   * Another device of the name unlinked this one: the instance holding its connection closes it,
   * and the leader has its leaf removed by the next commit.
   */
  v.object({ type: v.literal('unlink'), member: MemberSchema }),
  /**
   * A new device's approval ended, on whichever instance it was approved: the instance where it
   * waits lets it in with these links, or puts it out (null: it could not be linked).
   */
  v.object({
    type: v.literal('link-settled'),
    identityKey: MemberSchema.entries.identityKey,
    links: v.nullable(DeviceLinksSchema),
  }),
  /** A new leader runs the Delivery Service: members still waiting to be added ask it again. */
  v.object({ type: v.literal('leader'), instance: Instance }),
])
export type ClusterEvent = v.InferOutput<typeof ClusterEventSchema>
export type DeliveryRequest = Extract<ClusterEvent, { type: 'ds' }>
export type DirectEvent = Extract<ClusterEvent, { type: 'direct' }>

/** Who is online, and on which instance: one field of the presence hash, by identity key. */
export const PresenceRecordSchema = v.object({ ...MemberSchema.entries, instance: Instance })
export type PresenceRecord = v.InferOutput<typeof PresenceRecordSchema>
