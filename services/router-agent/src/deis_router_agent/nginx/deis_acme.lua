--[[ deis_acme: answers to ACME HTTP-01 challenges, from tokens the agent sets.

The router agent writes every challenge the controller's certificate issuer holds open (KV
`challenges`) into the shared dict `deis_challenges`, through the Unix socket only it can
reach (`update`, behind `location = /challenges`), so a challenge is answered on every plain
HTTP server at once, without a reload:

    key:   the token (base64url, 22 to 128 characters)
    value: its key authorization ("<token>.<thumbprint>")

`answer()` (the challenge location of every plain HTTP server: `domain.challenging`) answers
`GET /.well-known/acme-challenge/<token>` with the key authorization as text/plain, or 404.

`update()` takes lines "<token> <key authorization>", each ending with a newline; PUT replaces
every challenge (the only method: the agent always sends the whole set, which is small). A
request with one malformed line changes nothing (400). GET lists the tokens held.

The dict lives as long as the master: it survives reloads; after a restart the agent sends
the set again.
]]

local socket = require "deis_socket"

local store = ngx.shared.deis_challenges
local reply = socket.reply
local _M = {}

local PREFIX = "/.well-known/acme-challenge/"
local TOKEN = "^[A-Za-z0-9_-]+$"
local KEY_AUTHORIZATION = "^[A-Za-z0-9_.-]+$"

local function valid_token(token)
    return token ~= nil and #token >= 22 and #token <= 128 and token:match(TOKEN) ~= nil
end

local function valid_key_authorization(value)
    return value ~= nil and #value >= 1 and #value <= 300 and value:match(KEY_AUTHORIZATION) ~= nil
end


--- The challenge location (a token's path) of every plain HTTP server.
function _M.answer()
    local method = ngx.req.get_method()
    if method ~= "GET" and method ~= "HEAD" then
        return reply(405, "GET\n")
    end
    local uri = ngx.var.uri
    local token = uri:sub(#PREFIX + 1)
    local value = nil
    if uri:sub(1, #PREFIX) == PREFIX and valid_token(token) then
        value = store:get(token)
    end
    if value == nil then
        return reply(ngx.HTTP_NOT_FOUND, "no such challenge\n")
    end
    return reply(ngx.HTTP_OK, value)
end

local function parse(body)
    if body ~= "" and body:sub(-1) ~= "\n" then
        return nil, "every line ends with a newline"
    end
    local entries = {}
    for line in body:gmatch("([^\n]*)\n") do
        local token, value = line:match("^([^ ]+) ([^ ]+)$")
        if not valid_token(token) then
            return nil, "not a token and a key authorization: " .. line:sub(1, 80)
        end
        if not valid_key_authorization(value) then
            return nil, "not a key authorization: " .. line:sub(1, 80)
        end
        if entries[token] ~= nil then
            return nil, "token named twice: " .. token
        end
        entries[token] = value
    end
    return entries
end

--- `location = /challenges` on the agent's socket: PUT every challenge, GET the tokens.
function _M.update()
    local method, body = socket.accept({ PUT = true }, function()
        return store:get_keys(0)
    end)
    if method == nil then
        return
    end
    local entries, err = parse(body)
    if entries == nil then
        return reply(400, err .. "\n")
    end
    for _, token in ipairs(store:get_keys(0)) do
        if entries[token] == nil then
            store:delete(token)
        end
    end
    local count = 0
    for token, value in pairs(entries) do
        local ok, set_err = store:safe_set(token, value)
        if not ok then
            return reply(507, "cannot store " .. token .. ": " .. set_err .. "\n")
        end
        count = count + 1
    end
    return reply(ngx.HTTP_OK, "ok " .. count .. "\n")
end

return _M
