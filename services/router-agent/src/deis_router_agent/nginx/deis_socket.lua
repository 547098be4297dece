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

--- Lines sorted, each ending with a newline, as one text.
function _M.listing(lines)
    table.sort(lines)
    return table.concat(lines, "\n") .. (#lines > 0 and "\n" or "")
end

--- The start of every handler: GET answers `list()`'s lines; a method not in `methods`
--- (a set) answers 405; otherwise the method and the body (kept whole in memory by the
--- socket's server, up to `client_body_buffer_size`; larger answers 413). After an answer:
--- nil, and the handler returns.
function _M.accept(methods, list)
    local method = ngx.req.get_method()
    if method == "GET" then
        _M.reply(ngx.HTTP_OK, _M.listing(list()))
        return nil
    end
    if not methods[method] then
        local names = {}
        for name in pairs(methods) do
            names[#names + 1] = name
        end
        table.sort(names)
        _M.reply(405, "GET or " .. table.concat(names, " or ") .. "\n")
        return nil
    end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if body == nil and ngx.req.get_body_file() ~= nil then
        _M.reply(413, "body larger than the buffer\n")
        return nil
    end
    return method, body or ""
end

return _M
