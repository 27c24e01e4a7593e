// The Lua that makes each shared change atomic in Redis: numbering and logging, the epoch
// compare-and-set, presence, heartbeats and the leader lease. Redis runs one script at a time,
// so two instances can never interleave inside one.

/** Frames are sent without their closing brace; the script adds the sequence number it chose. */
const STAMP = `local function stamp(prefix, seq) return prefix .. ',"seq":' .. string.format('%d', seq) .. '}' end`

/**
 * Logs one stamped entry made at `now` (its frame's time, in ms) and keeps the log within its
 * retention (entries, bytes, age; the newest entry always stays). KEYS: log, sizes, bytes. The
 * trim reads one small list item per entry it drops, never an entry itself.
 */
const LOG_AND_TRIM = `local function log_and_trim(keys, entries, bytes, age_ms, now, seq, text)
  -- MAXLEN too, for entries logged before sizes were listed.
  redis.call('XADD', keys[1], 'MAXLEN', '~', entries, string.format('%d-0', seq), 'f', text)
  redis.call('RPUSH', keys[2], string.format('%d %d %d', seq, #text, now))
  local total = redis.call('INCRBY', keys[3], #text)
  local cut = nil
  while true do
    local count = redis.call('LLEN', keys[2])
    if count <= 1 then break end
    local first = redis.call('LINDEX', keys[2], 0)
    local s, size, at = string.match(first, '(%d+) (%d+) (%d+)')
    if count <= entries and total <= bytes and tonumber(at) >= now - age_ms then break end
    redis.call('LPOP', keys[2])
    total = redis.call('DECRBY', keys[3], tonumber(size))
    cut = s
  end
  if cut then redis.call('XTRIM', keys[1], 'MINID', cut .. '-1') end
end`

/**
 * KEYS: head, log, sizes, bytes. ARGV: entries, bytes and age kept, then each entry's time and
 * unstamped frame. Numbers the entries consecutively and logs them; returns the first number.
 */
export const APPEND = `${STAMP}
${LOG_AND_TRIM}
local count = (#ARGV - 3) / 2
local last = redis.call('INCRBY', KEYS[1], count)
for i = 1, count do
  local seq = last - count + i
  log_and_trim({ KEYS[2], KEYS[3], KEYS[4] }, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
    tonumber(ARGV[2 * i + 2]), seq, stamp(ARGV[2 * i + 3], seq))
end
return last - count + 1`

/**
 * KEYS: group, head, log, sizes, bytes. ARGV: expected group id, expected epoch, next record,
 * unstamped commit frame, entries, bytes and age kept, the commit's time. Logs the commit and stores the next record
 * only if the group is still the one expected; returns the commit's sequence number, or -1 when
 * another commit won the epoch.
 */
export const ACCEPT_COMMIT = `${STAMP}
${LOG_AND_TRIM}
local stored = redis.call('GET', KEYS[1])
if not stored then return -1 end
local group = cjson.decode(stored)
if group.groupId ~= ARGV[1] or group.epoch ~= tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], ARGV[3])
local seq = redis.call('INCR', KEYS[2])
log_and_trim({ KEYS[3], KEYS[4], KEYS[5] }, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]),
  tonumber(ARGV[8]), seq, stamp(ARGV[4], seq))
return seq`

/**
 * KEYS: log. ARGV: the entry to read after (exclusive, as `(<seq>-0`), count, bytes. Entries in
 * order, at most `count`, and no more than `bytes` of text past the first: a replay of large files
 * takes a few at a time.
 */
export const READ_AFTER = `
local out = {}
local total = 0
local cursor = ARGV[1]
local limit = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
while #out < limit do
  local batch = redis.call('XRANGE', KEYS[1], cursor, '+', 'COUNT', math.min(16, limit - #out))
  if #batch == 0 then break end
  for _, entry in ipairs(batch) do
    local size = #entry[2][2]
    if #out > 0 and total + size > budget then return out end
    total = total + size
    out[#out + 1] = entry
  end
  cursor = '(' .. batch[#batch][1]
end
return out`

/** KEYS: group. ARGV: group id. Forgets the group only if it is still that one. */
export const DISSOLVE = `
local stored = redis.call('GET', KEYS[1])
if stored and cjson.decode(stored).groupId == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`

const EMIT = (events: string) =>
  `local function emit(text) redis.call('XADD', ${events}, 'MAXLEN', '~', ARGV[1], '*', 'f', text) end`

/**
 * KEYS: presence, events. ARGV: events kept, identity key (each device is its own field), record
 * JSON ({ name, identityKey, instance }), join frame, leave frame for the old spelling (at and
 * reason filled in). Records the member here and announces what the shared record says is news: a join, nothing for
 * a reconnect under the same spelling, a leave and a join for a new spelling. A member still
 * recorded on another instance is displaced there.
 */
export const ARRIVE = `${EMIT('KEYS[2]')}
local previous = redis.call('HGET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
local record = cjson.decode(ARGV[3])
if previous then
  previous = cjson.decode(previous)
  if previous.instance ~= record.instance then
    emit(cjson.encode({
      type = 'displace', name = previous.name, identityKey = previous.identityKey,
      instance = previous.instance,
    }))
  end
  if previous.name == record.name then return 0 end
  local leave = cjson.decode(ARGV[5])
  leave.name = previous.name
  leave.identityKey = previous.identityKey
  emit(cjson.encode(leave))
end
emit(ARGV[4])
return 1`

/**
 * KEYS: presence, events. ARGV: events kept, identity key, instance, leave frame.
 * Announces the leave only if the member is still recorded on this instance: once it has
 * reconnected elsewhere, the old connection's end is nobody's news.
 */
export const DEPART = `${EMIT('KEYS[2]')}
local stored = redis.call('HGET', KEYS[1], ARGV[2])
if not stored or cjson.decode(stored).instance ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
emit(ARGV[4])
return 1`

/**
 * KEYS: instances, presence, events, leader. ARGV: events kept, instance, instance timeout ms,
 * leader lease ms, how long this instance's heartbeats have gone through without a gap. Records this instance's heartbeat; announces as left the members of instances
 * whose heartbeat stopped (each is reaped by exactly one run of this script); renews or takes the
 * leader lease. Returns { was this instance new to the set (1/0), does it lead (1/0) }.
 */
export const HEARTBEAT = `${EMIT('KEYS[3]')}
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local timeout = tonumber(ARGV[3])
local added = redis.call('ZADD', KEYS[1], now, ARGV[2])
-- An instance reaps only once its own heartbeats have gone through for a whole timeout: one back
-- from an outage (Redis restarting, a long pause) gives the others, cut off too, time to return.
local dead = {}
if tonumber(ARGV[5]) >= timeout then
  dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - timeout)
end
if #dead > 0 then
  local gone = {}
  for _, id in ipairs(dead) do
    gone[id] = true
    redis.call('ZREM', KEYS[1], id)
  end
  local online = redis.call('HGETALL', KEYS[2])
  for i = 1, #online, 2 do
    local record = cjson.decode(online[i + 1])
    if gone[record.instance] then
      redis.call('HDEL', KEYS[2], online[i])
      emit(cjson.encode({ type = 'presence', event = 'leave', name = record.name,
        identityKey = record.identityKey, at = now, reason = 'dropped' }))
    end
  end
end
local leader = redis.call('GET', KEYS[4])
local leads = 0
if not leader then
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4])
  leads = 1
elseif leader == ARGV[2] then
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
  leads = 1
end
return { added, leads }`

/** KEYS: instances, leader. ARGV: instance. A clean stop: leave the set, hand the lease back. */
export const RETIRE = `
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 0`
