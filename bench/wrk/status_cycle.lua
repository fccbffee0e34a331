-- P4: POST /api/v1/projects/<id>/status, moving one project back and forth between two
-- statuses along allowed transitions (e.g. preparing -> suspended -> preparing), each
-- request with If-Match: the ETag of the previous answer. Run it with ONE connection:
-- the next request needs the previous answer's ETag.
--   wrk -t1 -c1 -s bench/wrk/status_cycle.lua http://host:port -- <id> <etag> <from> <to>
-- The headers (X-API-Key, or the internal token and actor) come from wrk's -H options.

local path, etag, statuses, turn

function init(args)
  path = "/api/v1/projects/" .. args[1] .. "/status"
  etag = args[2]
  statuses = { args[4], args[3] } -- the first move goes to <to>, the next back to <from>
  turn = 1
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  wrk.headers["If-Match"] = etag
  local body = '{"status": "' .. statuses[turn] .. '", "note": "bench"}'
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  if status == 200 then
    etag = headers["etag"] or headers["ETag"] or etag
    turn = 3 - turn
  end
end
