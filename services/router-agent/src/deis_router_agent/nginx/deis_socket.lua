--[[ deis_socket: what every handler on the agent's Unix socket shares.

The balancer (`/endpoints`), the routes (`/routes`), the ACME answers (`/challenges`) and the
request counters (`/metrics`) are each a `location` of the one server listening on the
agent's socket. Each answers in plain text and reads a body kept whole in memory.
]]

local _M = {}

--- Answer `status` with `text` (text/plain) and end the request.
function _M.reply(status, text)
    ngx.status = status
    ngx.header["Content-Type"] = "text/plain"
    ngx.print(text)
    return ngx.exit(ngx.HTTP_OK)
end

--- The request's body ("" when none), or nil and an error when it is larger than the buffer
--- (the socket's server keeps bodies in memory up to `client_body_buffer_size`).
function _M.body()
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if body ~= nil then
        return body
    end
    if ngx.req.get_body_file() ~= nil then
        return nil, "body larger than the buffer"
    end
    return ""
end

return _M
