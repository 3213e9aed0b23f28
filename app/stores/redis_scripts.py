"""The Lua scripts of the Redis store: each is one round trip and runs atomically.

Redis runs a script with no other command in between, so a job's id, spec,
status byte, owner and the running count change together or not at all,
and exactly one process claims the jobs of a dead one.
Status bytes are those of app.stores.base.CODE_OF_STATUS: \\1 running,
\\2 done, \\3 error; 0 is a job not kept.
"""

# The chunk number and the offset of a status byte, from an id held as a
# string: a Lua number holds integers exactly only up to 2^53, and Redis
# ids go up to 2^63 - 1. Chunks are of 10^5 ids (app.stores.redis_keys).
_SPLIT = """
local function split(id)
  local chunk = string.sub(id, 1, -6)
  if chunk == '' then chunk = '0' end
  return chunk, tonumber(string.sub(id, -5))
end
"""

# KEYS: next_id, live_chunks, running, shutdown_epoch, processes, owned(me), heartbeat(me)
# ARGV: this process's epoch, spec, me, job prefix, heartbeat time to live (ms), status chunk prefix,
#       the submit time (seconds since the epoch)
# Returns the new id (as a string), or -1 when the cluster was asked to shut down.
CREATE = _SPLIT + """
if tonumber(redis.call('GET', KEYS[4]) or '0') ~= tonumber(ARGV[1]) then return -1 end
redis.call('INCR', KEYS[1])
local id = redis.call('GET', KEYS[1])
local chunk, offset = split(id)
redis.call('SETRANGE', ARGV[6] .. chunk, offset, '\\1')
redis.call('HINCRBY', KEYS[2], chunk, 1)
redis.call('HSET', ARGV[4] .. id, 'spec', ARGV[2], 'owner', ARGV[3], 'submitted_at', ARGV[7])
redis.call('INCR', KEYS[3])
redis.call('SADD', KEYS[6], id)
redis.call('SADD', KEYS[5], ARGV[3])
if redis.call('EXISTS', KEYS[7]) == 0 then redis.call('SET', KEYS[7], '1', 'PX', ARGV[5]) end
return id
"""

# The end shared by FINISH and FAIL: the first outcome of a job stands, and
# its settle time with it (a job run twice after a takeover gets the same
# answer anyway). With a retention time, the job's hash expires that long
# after it settled, and its id joins the list the sweep walks.
_SETTLE = """
local id = ARGV[1]
local job = ARGV[2] .. id
local was = redis.call('GETRANGE', KEYS[1], OFFSET, OFFSET)
if was ~= '\\1' then return 0 end
redis.call('HSET', job, FIELD, VALUE, 'finished_at', AT)
redis.call('SETRANGE', KEYS[1], OFFSET, CODE)
redis.call('DECR', KEYS[2])
local owner = redis.call('HGET', job, 'owner')
if owner then redis.call('SREM', ARGV[3] .. owner, id) end
if tonumber(TTL) > 0 then
  redis.call('PEXPIRE', job, TTL)
  redis.call('RPUSH', KEYS[3], id)
end
return 1
"""

# KEYS: status chunk, running, settled
# ARGV: id, job prefix, owned prefix, answer prefix, digest, "1" when the answer follows, the answer,
#       offset in the chunk, retention time (ms, 0: kept for ever), the settle time (seconds since the epoch)
# Returns 1, 0 when the job was settled already, -1 when the answer is not
# stored under its digest and must be sent. An answer shared by many jobs
# expires with the last of them: each refreshes it.
FINISH = """
local OFFSET, TTL, AT = ARGV[8], ARGV[9], ARGV[10]
local answer = ARGV[4] .. ARGV[5]
if ARGV[6] == '1' then
  redis.call('SET', answer, ARGV[7])
elseif redis.call('EXISTS', answer) == 0 then
  return -1
end
if tonumber(TTL) > 0 then redis.call('PEXPIRE', answer, TTL) end
local FIELD, VALUE, CODE = 'answer', ARGV[5], '\\2'
""" + _SETTLE

# KEYS: status chunk, running, settled
# ARGV: id, job prefix, owned prefix, reason, offset in the chunk, retention time (ms), the settle time
FAIL = """
local OFFSET, TTL, AT = ARGV[5], ARGV[6], ARGV[7]
local FIELD, VALUE, CODE = 'reason', ARGV[4], '\\3'
""" + _SETTLE

# KEYS: status chunk, next_id
# ARGV: id, job prefix, answer prefix, offset in the chunk,
#       "1" for the answer itself, "0" for whether it exists
# Returns {status byte} of a running job; {status byte, the answer (or 1 or 0)
# or the reason} of a settled one, a missing answer nil; {a 0 byte, the newest id} for
# a job that is not kept: expired when its id was handed out (a settled job
# whose hash expired included).
LOOKUP = """
local code = redis.call('GETRANGE', KEYS[1], ARGV[4], ARGV[4])
local job = ARGV[2] .. ARGV[1]
if code == '\\1' then return {code} end
if code == '\\2' then
  local digest = redis.call('HGET', job, 'answer')
  if digest then
    if ARGV[5] == '1' then return {code, redis.call('GET', ARGV[3] .. digest)} end
    return {code, redis.call('EXISTS', ARGV[3] .. digest)}
  end
elseif code == '\\3' then
  local reason = redis.call('HGET', job, 'reason')
  if reason then return {code, reason} end
end
return {'\\0', redis.call('GET', KEYS[2]) or '0'}
"""

# KEYS: settled, live_chunks
# ARGV: job prefix, status chunk prefix, the most jobs to look at
# Forgets, from the front of the settled list, the jobs whose hash expired:
# their status byte becomes 0 and a chunk none of whose jobs is kept is
# deleted. Stops at the first job still kept. Returns how many it forgot.
SWEEP = _SPLIT + """
local swept = 0
while swept < tonumber(ARGV[3]) do
  local id = redis.call('LINDEX', KEYS[1], 0)
  if not id or redis.call('EXISTS', ARGV[1] .. id) == 1 then break end
  redis.call('LPOP', KEYS[1])
  local chunk, offset = split(id)
  local key = ARGV[2] .. chunk
  if redis.call('HINCRBY', KEYS[2], chunk, -1) <= 0 then
    redis.call('HDEL', KEYS[2], chunk)
    redis.call('DEL', key)
  else
    redis.call('SETRANGE', key, offset, '\\0')
  end
  swept = swept + 1
end
return swept
"""

# KEYS: shutdown_epoch, processes, heartbeat(me), owned(me)
# ARGV: me, heartbeat time to live (ms), "1" to claim the jobs of dead processes,
#       heartbeat prefix, owned prefix, job prefix
# Returns {the shutdown epoch, {id, spec, id, spec, ...} of the jobs claimed}.
BEAT = """
-- A beat that finds its own heartbeat expired claims nothing: Redis was out
-- of reach, or this call waited in Redis while it was stalled, and the other
-- heartbeats expired with it; their processes may well be alive.
local alive = redis.call('EXISTS', KEYS[3]) == 1
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
local claimed = {}
if ARGV[3] == '1' and alive then
  for _, process in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if process ~= ARGV[1] and redis.call('EXISTS', ARGV[4] .. process) == 0 then
      local owned = ARGV[5] .. process
      for _, id in ipairs(redis.call('SMEMBERS', owned)) do
        local job = ARGV[6] .. id
        local spec = redis.call('HGET', job, 'spec')
        if spec then
          redis.call('HSET', job, 'owner', ARGV[1])
          redis.call('SADD', KEYS[4], id)
          claimed[#claimed + 1] = id
          claimed[#claimed + 1] = spec
        end
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
