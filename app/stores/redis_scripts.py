"""The Lua scripts of the Redis store: each is one round trip and runs atomically.

Redis runs a script with no other command in between, so a job's id, spec,
status byte, owner and the running count change together or not at all,
and exactly one process claims the jobs of a dead one.
Status bytes are those of app.stores.base.CODE_OF_STATUS: \\1 running,
\\2 done, \\3 error.
"""

# KEYS: next_id, statuses, running, shutdown_epoch, processes, owned(me), heartbeat(me)
# ARGV: this process's epoch, spec, me, job prefix, heartbeat time to live (ms)
# Returns the new id, or -1 when the cluster was asked to shut down.
CREATE = """
if tonumber(redis.call('GET', KEYS[4]) or '0') ~= tonumber(ARGV[1]) then return -1 end
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', ARGV[4] .. id, 'spec', ARGV[2], 'owner', ARGV[3])
redis.call('SETRANGE', KEYS[2], id, '\\1')
redis.call('INCR', KEYS[3])
redis.call('SADD', KEYS[6], id)
redis.call('SADD', KEYS[5], ARGV[3])
if redis.call('EXISTS', KEYS[7]) == 0 then redis.call('SET', KEYS[7], '1', 'PX', ARGV[5]) end
return id
"""

# The end shared by FINISH and FAIL: the first outcome of a job stands (a job
# run twice after a takeover gets the same answer anyway).
_SETTLE = """
local id = tonumber(ARGV[1])
local job = ARGV[2] .. id
local was = redis.call('GETRANGE', KEYS[1], id, id)
if was ~= '\\1' then return 0 end
redis.call('HSET', job, FIELD, VALUE)
redis.call('SETRANGE', KEYS[1], id, CODE)
redis.call('DECR', KEYS[2])
local owner = redis.call('HGET', job, 'owner')
if owner then redis.call('SREM', ARGV[3] .. owner, id) end
return 1
"""

# KEYS: statuses, running
# ARGV: id, job prefix, owned prefix, answer prefix, digest, "1" when the answer follows, the answer
# Returns 1, 0 when the job was settled already, -1 when the answer is not
# stored under its digest and must be sent.
FINISH = """
local answer = ARGV[4] .. ARGV[5]
if ARGV[6] == '1' then
  redis.call('SET', answer, ARGV[7])
elseif redis.call('EXISTS', answer) == 0 then
  return -1
end
local FIELD, VALUE, CODE = 'answer', ARGV[5], '\\2'
""" + _SETTLE

# KEYS: statuses, running
# ARGV: id, job prefix, owned prefix, reason
FAIL = """
local FIELD, VALUE, CODE = 'reason', ARGV[4], '\\3'
""" + _SETTLE

# KEYS: statuses
# ARGV: id, job prefix, answer prefix
# Returns {status byte} or {status byte, answer or reason}; a missing answer is nil.
LOOKUP = """
local code = redis.call('GETRANGE', KEYS[1], ARGV[1], ARGV[1])
if code == '\\2' then
  local digest = redis.call('HGET', ARGV[2] .. ARGV[1], 'answer')
  if not digest then return {code, false} end
  return {code, redis.call('GET', ARGV[3] .. digest)}
elseif code == '\\3' then
  return {code, redis.call('HGET', ARGV[2] .. ARGV[1], 'reason')}
end
return {code}
"""

# KEYS: shutdown_epoch, processes, heartbeat(me), owned(me)
# ARGV: me, heartbeat time to live (ms), "1" to claim the jobs of dead processes,
#       heartbeat prefix, owned prefix, job prefix
# Returns {the shutdown epoch, {id, spec, id, spec, ...} of the jobs claimed}.
BEAT = """
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
local claimed = {}
if ARGV[3] == '1' then
  for _, process in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if process ~= ARGV[1] and redis.call('EXISTS', ARGV[4] .. process) == 0 then
      local owned = ARGV[5] .. process
      for _, id in ipairs(redis.call('SMEMBERS', owned)) do
        local job = ARGV[6] .. id
        redis.call('HSET', job, 'owner', ARGV[1])
        redis.call('SADD', KEYS[4], id)
        claimed[#claimed + 1] = id
        claimed[#claimed + 1] = redis.call('HGET', job, 'spec')
      end
      redis.call('DEL', owned)
      redis.call('SREM', KEYS[2], process)
    end
  end
end
return {redis.call('GET', KEYS[1]) or '0', claimed}
"""

# KEYS: shutdown_epoch
# ARGV: this process's epoch
# Bumps the epoch unless a shutdown already passed this process: asking a
# stopped process again must not stop the processes started since.
REQUEST_SHUTDOWN = """
if tonumber(redis.call('GET', KEYS[1]) or '0') == tonumber(ARGV[1]) then
  return redis.call('INCR', KEYS[1])
end
return 0
"""

# KEYS: processes, heartbeat(me), owned(me)
# ARGV: me
# A process that stops: its heartbeat goes at once, so that whatever it still
# owns is claimed at the next beat of another, and it leaves the set when it owns nothing.
LEAVE = """
redis.call('DEL', KEYS[2])
if redis.call('SCARD', KEYS[3]) == 0 then redis.call('SREM', KEYS[1], ARGV[1]) end
return 1
"""
