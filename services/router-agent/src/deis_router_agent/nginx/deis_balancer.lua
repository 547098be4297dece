--[[ deis_balancer: which process of an app serves a request, from endpoints the agent sets.

The router agent writes every app's endpoints into the shared dict `deis_endpoints` through a
Unix socket only it can reach (`update`, behind `location = /endpoints`), so a deploy or a
scale changes where nginx sends requests without a reload: workers, their client
connections and their keep-alive connections to the apps all stay.

    key:   the app name
    value: its peers, "host:port host:port ...", IP addresses only (IPv6 in brackets);
           an app without a key has no process (503 page)

Per request: `admit(app)` (access phase of the app's `location /`) takes a snapshot of the
app's peers and the next one in round robin, or answers the 503 page when there is none;
`balance()` (the app upstream's `balancer_by_lua_block`) sets that peer, and on a failed
connection the next one (as `proxy_next_upstream` does across an upstream's servers), each
peer at most once. `keepalive` in the upstream keeps idle connections per peer address.

`update()` takes lines "<app> <host:port> ..." ("<app>" alone: no process), each ending with
a newline; PUT replaces every app's endpoints, PATCH only the apps named. A request with one
malformed line changes nothing (400).

Loaded by `init_by_lua_block` in the master, so workers share it; reloaded at every reload.
]]

local balancer = require "ngx.balancer"
local socket = require "deis_socket"

local reply = socket.reply

local store = ngx.shared.deis_endpoints
local _M = {}

local unavailable = "503 Service Unavailable\n"
local parsed = {} -- per worker: app -> { raw = value in the dict, peers = { { host, port } } }
local cursor = {} -- per worker: app -> index of the peer chosen last

--- The page of an app with no process (from the agent's configuration).
function _M.configure(page)
    unavailable = page
end

local function peers_of(app)
    local raw = store:get(app)
    if raw == nil or raw == "" then
        return nil
    end
    local cached = parsed[app]
    if cached ~= nil and cached.raw == raw then
        return cached.peers
    end
    local peers = {}
    for token in raw:gmatch("%S+") do
        local host, port = token:match("^(.+):(%d+)$")
        peers[#peers + 1] = { host, tonumber(port) }
    end
    parsed[app] = { raw = raw, peers = peers }
    return peers
end

--- Access phase of an app's location: choose the first peer, or answer 503.
function _M.admit(app)
    local peers = peers_of(app)
    if peers == nil then
        ngx.status = ngx.HTTP_SERVICE_UNAVAILABLE
        ngx.header["Content-Type"] = "text/html"
        ngx.print(unavailable)
        return ngx.exit(ngx.HTTP_OK)
    end
    local first = (cursor[app] or 0) % #peers + 1
    cursor[app] = first
    local ctx = ngx.ctx
    ctx.deis_peers = peers
    ctx.deis_next = first
end

--- Balancer phase: the chosen peer; on a retry, the next one.
function _M.balance()
    local ctx = ngx.ctx
    local peers = ctx.deis_peers
    if peers == nil then
        ngx.log(ngx.ERR, "deis balancer: no peer chosen for this request")
        return ngx.exit(ngx.ERROR)
    end
    if ctx.deis_tries == nil then
        ctx.deis_tries = 1
        if #peers > 1 then
            balancer.set_more_tries(#peers - 1)
        end
    end
    local index = ctx.deis_next
    ctx.deis_next = index % #peers + 1
    local peer = peers[index]
    local ok, err = balancer.set_current_peer(peer[1], peer[2])
    if not ok then
        ngx.log(ngx.ERR, "deis balancer: cannot use ", peer[1], ":", peer[2], ": ", err)
        return ngx.exit(ngx.ERROR)
    end
end

local function valid_peer(token)
    local host, port = token:match("^(.+):(%d+)$")
    if host == nil or #port > 5 then
        return false
    end
    port = tonumber(port)
    if port < 1 or port > 65535 then
        return false
    end
    local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if a ~= nil then
        for _, octet in ipairs({ a, b, c, d }) do
            if #octet > 3 or tonumber(octet) > 255 then
                return false
            end
        end
        return true
    end
    return host:match("^%[[%x:.]+%]$") ~= nil and host:find(":", 1, true) ~= nil
end

local function parse(body)
    if body ~= "" and body:sub(-1) ~= "\n" then
        return nil, "every line ends with a newline"
    end
    local entries, order = {}, {}
    for line in body:gmatch("([^\n]*)\n") do
        local app, rest = line:match("^([a-z0-9][a-z0-9-]*)(.*)$")
        if app == nil or #app > 63 then
            return nil, "not an app name at the start of: " .. line:sub(1, 80)
        end
        if entries[app] ~= nil then
            return nil, "app named twice: " .. app
        end
        local peers = {}
        if rest ~= "" then
            if rest:sub(1, 1) ~= " " or rest:find("  ", 1, true) or rest:sub(-1) == " " then
                return nil, "peers are separated by single spaces: " .. line:sub(1, 80)
            end
            for token in rest:gmatch("[^ ]+") do
                if not valid_peer(token) then
                    return nil, "not an IP address and port: " .. token:sub(1, 80)
                end
                peers[#peers + 1] = token
            end
        end
        entries[app] = table.concat(peers, " ")
        order[#order + 1] = app
    end
    return entries, order
end


local function held()
    local lines = {}
    for _, app in ipairs(store:get_keys(0)) do
        local value = store:get(app)
        if value ~= nil then
            lines[#lines + 1] = value == "" and app or (app .. " " .. value)
        end
    end
    return lines
end

--- `location = /endpoints`: GET the endpoints, PUT all of them, PATCH some.
function _M.update()
    local method, body = socket.accept({ PUT = true, PATCH = true }, held)
    if method == nil then
        return
    end
    local entries, order = parse(body)
    if entries == nil then
        return reply(400, order .. "\n")
    end
    if method == "PUT" then
        for _, app in ipairs(store:get_keys(0)) do
            if entries[app] == nil then
                store:delete(app)
            end
        end
    end
    for _, app in ipairs(order) do
        local value = entries[app]
        if value == "" then
            store:delete(app)
        else
            local ok, err = store:safe_set(app, value)
            if not ok then
                return reply(507, "cannot store " .. app .. ": " .. err .. "\n")
            end
        end
    end
    return reply(ngx.HTTP_OK, "ok " .. #order .. "\n")
end

return _M
