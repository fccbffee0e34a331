-- P1: GET <prefix><id> with a random project id in [first, last] on every request.
--   wrk -s bench/wrk/random_project.lua http://host:port -- /api/v1/projects/ 177 1000176
-- The headers (X-API-Key, or the internal token and actor) come from wrk's -H options.

local prefix, first, last

function init(args)
  prefix = args[1]
  first = tonumber(args[2])
  last = tonumber(args[3])
  -- every thread has its own Lua state: seed each differently (its table address)
  local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + address % 1000003)
end

function request()
  return wrk.format("GET", prefix .. math.random(first, last))
end
