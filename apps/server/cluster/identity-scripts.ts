// The Lua scripts that change name bindings, bans and invites in Redis: each decides and writes
// in one step, so two instances never both bind one name or both take one invite.

/** Lapsed bindings freed by one claim at most; the rest go with the next ones. */
const LAPSE_BATCH = 256

/**
 * Frees a binding: name → key, its skeleton (if still its own), unconfirmed entry, details, and
 * the devices linked to it (KEYS[5]).
 */
const FREE = `
local function free(name, skeleton)
  redis.call('HDEL', KEYS[1], name)
  redis.call('HDEL', KEYS[5], name)
  if redis.call('HGET', KEYS[2], skeleton) == name then redis.call('HDEL', KEYS[2], skeleton) end
  redis.call('ZREM', KEYS[3], name .. ' ' .. skeleton)
  redis.call('HDEL', KEYS[4], name)
end`

/**
 * Whether `key` is a device linked to `name` while `owner` holds it: `devices` is the hash of
 * each name's linked devices (JSON), whose `of` is the key that linked them.
 */
const LINKED = `
local function linked(devices, name, owner, key)
  local record = redis.call('HGET', devices, name)
  if not record then return false end
  record = cjson.decode(record)
  if record.of ~= owner then return false end
  for _, device in ipairs(record.devices) do
    if device.identityKey == key then return true end
  end
  return false
end`

/**
 * KEYS: identities, skeletons, unconfirmed, details, devices. ARGV: name key, skeleton, identity
 * key, time, lapse before ('' for never), may bind ('1'/'0'), name as spelled. Frees lapsed
 * bindings, then decides: 0 new, 1 known (the name's key or a device linked to it), 2 conflict,
 * 3 confusable, 4 limited.
 */
export const CLAIM = `${FREE}${LINKED}
local function lapsed(name, skeleton)
  if ARGV[5] == '' then return false end
  local bound = redis.call('ZSCORE', KEYS[3], name .. ' ' .. skeleton)
  return bound and tonumber(bound) < tonumber(ARGV[5])
end
if ARGV[5] ~= '' then
  local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5], 'LIMIT', 0, ${LAPSE_BATCH})
  for _, member in ipairs(old) do
    local name, skeleton = string.match(member, '^(%S+) (%S+)$')
    free(name, skeleton)
  end
end
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and lapsed(ARGV[1], ARGV[2]) then
  free(ARGV[1], ARGV[2])
  owner = false
end
if owner then
  if owner == ARGV[3] or linked(KEYS[5], ARGV[1], owner, ARGV[3]) then return 1 end
  return 2
end
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder and lapsed(holder, ARGV[2]) then
  free(holder, ARGV[2])
  holder = false
end
if holder then return 3 end
if ARGV[6] ~= '1' then return 4 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1] .. ' ' .. ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4] .. ' - ' .. ARGV[7])
return 0`

/**
 * KEYS: identities, unconfirmed, details, devices. ARGV: time, then name key, unconfirmed member,
 * identity key for each member. Confirms the names still bound to those keys, or to keys those
 * devices are linked to, as used at that time.
 */
export const CONFIRM = `${LINKED}
local function holds(name, key)
  local owner = redis.call('HGET', KEYS[1], name)
  if not owner then return false end
  return owner == key or linked(KEYS[4], name, owner, key)
end
for i = 2, #ARGV, 3 do
  if holds(ARGV[i], ARGV[i + 2]) then
    redis.call('ZREM', KEYS[2], ARGV[i + 1])
    local details = redis.call('HGET', KEYS[3], ARGV[i])
    if details then
      local bound, _, spelled = string.match(details, '^(%S+) (%S+) (%S+)$')
      redis.call('HSET', KEYS[3], ARGV[i], bound .. ' ' .. ARGV[1] .. ' ' .. spelled)
    end
  end
end
return 0`

/**
 * KEYS: identities, skeletons, unconfirmed, details, devices. ARGV: name key, skeleton. 1 if it
 * was bound.
 */
export const RELEASE = `${FREE}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
free(ARGV[1], ARGV[2])
return 1`

/** KEYS: identities, bans. ARGV: name key. The key banned, or nil if the name is not bound. */
export const BAN = `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then return nil end
redis.call('HSETNX', KEYS[2], owner, ARGV[1])
return owner`

/** KEYS: bans. ARGV: name key. Lifts the bans of the keys that held it; how many there were. */
export const UNBAN = `
local lifted = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    lifted = lifted + 1
  end
end
return lifted`

/**
 * KEYS: invites. ARGV: code digest, name key, time. Drops expired invites, then removes and
 * returns the one asked for if it is for that name; nil otherwise.
 */
export const TAKE_INVITE = `
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local _, expires = string.match(all[i + 1], '^(%S+) (%S+)')
  if tonumber(expires) <= tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end
end
local invite = redis.call('HGET', KEYS[1], ARGV[1])
if not invite or string.match(invite, '^(%S+)') ~= ARGV[2] then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
return invite`

/**
 * KEYS: identities, devices. ARGV: name key, the key it must still be bound to, the devices as
 * read ('' for none), the devices to store ('' to store none), the key being linked ('' for
 * none). Changes a name's devices only if neither changed since they were read: 1, or 0 to read
 * again; 2 when the key being linked holds a name or is a device of one. That is checked here, in
 * the same step as the write, so two names linking one key at once cannot both find it free.
 */
export const SET_DEVICES = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if (redis.call('HGET', KEYS[2], ARGV[1]) or '') ~= ARGV[3] then return 0 end
if ARGV[5] ~= '' then
  for _, owner in ipairs(redis.call('HVALS', KEYS[1])) do
    if owner == ARGV[5] then return 2 end
  end
  local listed = '"identityKey":"' .. ARGV[5] .. '"'
  for _, record in ipairs(redis.call('HVALS', KEYS[2])) do
    if string.find(record, listed, 1, true) then return 2 end
  end
end
if ARGV[4] == '' then redis.call('HDEL', KEYS[2], ARGV[1])
else redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
return 1`

/** KEYS: skeletons. ARGV: skeleton, name key, … Lists names bound before skeletons were kept. */
export const ADD_SKELETONS = `
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 0`
