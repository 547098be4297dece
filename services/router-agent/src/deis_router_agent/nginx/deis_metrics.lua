--[[ deis_metrics: what nginx served per app, counted in the shared dict `deis_metrics`.

`record(app)` runs in the log phase of every server of an app (`log_by_lua_block`, so the
503 page of an app without a process, maintenance pages, whitelist refusals and HTTPS
redirects count too; the controller's server and the default servers have none). It adds, per
app, with `incr(key, n, 0)` (atomic across workers):

    key "<app> <class>"   responses by status class: 1xx 2xx 3xx 4xx 5xx
    key "<app> bytes"     bytes sent to the client, headers included ($bytes_sent)
    key "<app> ms"        request times summed, in milliseconds ($request_time)
    key "<app> b<i>"      responses whose time falls in latency bucket i (1-based): the first
                          bound >= the time, or one past the last bound for slower ones

The counters only grow; the agent reads them (`dump`, behind `location = /metrics` on its
Unix socket) and takes differences. The dict lives as long as the master: it survives
reloads and is lost at a restart. `@epoch` (set once per dict, at the first `configure`)
tells the agent which one it reads, so that after a restart it takes the new values whole.

`dump()` answers `@epoch <epoch>` on the first line, then `<app> <counter> <integer>` lines.
]]

local store = ngx.shared.deis_metrics
local _M = {}

local EPOCH = "@epoch"
local classes = { "1xx", "2xx", "3xx", "4xx", "5xx" }
local bounds = {} -- latency buckets' upper bounds, seconds (from the agent's configuration)

--- Set the latency buckets, and the dict's epoch if it has none (a new master).
function _M.configure(buckets)
    bounds = buckets
    ngx.update_time()
    store:add(EPOCH, string.format("%.3f", ngx.now()))
end

local function add(key, n)
    local _, err, forcible = store:incr(key, n, 0)
    if err ~= nil then
        ngx.log(ngx.WARN, "deis metrics: cannot count ", key, ": ", err)
    elseif forcible then
        ngx.log(ngx.WARN, "deis metrics: the dict is full; older counters were evicted")
    end
end

--- Log phase of an app's servers: count this response.
function _M.record(app)
    if app == nil or app == "" then
        return -- no app served this request (an unknown host, say)
    end
    local class = classes[math.floor(ngx.status / 100)]
    if class == nil then
        return -- no response was sent (status 0)
    end
    local prefix = app .. " "
    add(prefix .. class, 1)
    add(prefix .. "bytes", tonumber(ngx.var.bytes_sent) or 0)
    local seconds = tonumber(ngx.var.request_time) or 0
    add(prefix .. "ms", math.floor(seconds * 1000 + 0.5))
    local bucket = #bounds + 1
    for i, bound in ipairs(bounds) do
        if seconds <= bound then
            bucket = i
            break
        end
    end
    add(prefix .. "b" .. bucket, 1)
end

--- `location = /metrics` on the agent's socket: every counter, as lines.
function _M.dump()
    local lines = {}
    for _, key in ipairs(store:get_keys(0)) do
        local value = store:get(key)
        if value ~= nil and key ~= EPOCH then
            lines[#lines + 1] = key .. " " .. string.format("%.0f", value)
        end
    end
    table.sort(lines)
    ngx.status = ngx.HTTP_OK
    ngx.header["Content-Type"] = "text/plain"
    ngx.print("@epoch ", store:get(EPOCH) or "none", "\n")
    if #lines > 0 then
        ngx.print(table.concat(lines, "\n"), "\n")
    end
    return ngx.exit(ngx.HTTP_OK)
end

return _M
