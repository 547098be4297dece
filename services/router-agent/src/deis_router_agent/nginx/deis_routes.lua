--[[ deis_routes: which app a host is, how the app is served, and its certificates.

The router agent writes every routed app's domains, options and certificates into the shared
dict `deis_routes` through the Unix socket only it can reach (`update`, behind
`location = /routes`), so adding a domain, a certificate, a whitelist or maintenance needs
no reload: nginx's configuration names no app, and its cost does not grow with the apps.

    "a:<app>"         the app:  "<flags> <whitelist> <domain>=<certificate> ..."
                      flags: "m" maintenance, "e" HTTPS enforced, "-" neither;
                      whitelist: "-" (everyone) or "<hex>/<bits>,..." (network address bytes
                      in hex, prefix length); certificate: an id below or "-"
    "h:<domain>"      a host:   "<app> <certificate or ->" ("*.<suffix>" for a wildcard)
    "c:<app>/<name>"  a certificate: its PEM chain, a NUL, its PEM private key (the name
                      ends with a digest of both: a changed pair is a new key)

Per request (the catch-all servers' `location /`): `route(https)` finds the host (exact,
then the longest wildcard), and answers in order: 404 for an unknown host (or one without a
certificate over HTTPS), 403 outside the whitelist, 301 to HTTPS when enforced and the host
has a certificate, the 503 maintenance page; otherwise it names the app (`$deis_app`, for the
request counters), sets `$deis_hsts` over enforced HTTPS, and hands the app to the balancer.
`certificate()` (`ssl_certificate_by_lua_block`) sets the certificate of the handshake's
server name, or refuses the handshake.

`update()` takes lines, each ending with a newline:

    app <app> <flags> <whitelist> [<domain>=<certificate>]...
    cert <app>/<name> <base64 PEM chain> <base64 PEM key>
    gone <app>

PATCH sets the apps named (an app line replaces the app whole: its old domains and
certificates go), PUT replaces everything: what no app line names goes, once the apps named
are in (so no request meets an empty table). A request with one bad line changes nothing (400,
naming the app). A domain another app holds is taken over; the other app's later removal
does not take it back. GET lists the apps held, one line each.

The dict lives as long as the master: it survives reloads; after a restart the agent sends
every app again.
]]

local bit = require "bit"
local lrucache = require "resty.lrucache"
local ssl = require "ngx.ssl"
local balancer = require "deis_balancer"
local socket = require "deis_socket"

local store = ngx.shared.deis_routes
local reply = socket.reply
local _M = {}

local pages = { not_found = "404 Not Found\n", maintenance = "503 Maintenance\n" }
local hsts = "max-age=15724800"
local https_suffix = ""
local apps = {} -- per worker: app -> { raw = value in the dict, conf = parsed }
local pairs_cache = lrucache.new(2000) -- per worker: certificate id -> { chain, key } (cdata)

local APP = "^[a-z0-9][a-z0-9-]*$"
local DOMAIN = "^[a-z0-9][a-z0-9.-]*$"
local WILDCARD = "^%*%.[a-z0-9][a-z0-9.-]*$"
local CERTIFICATE = "^([a-z0-9][a-z0-9-]*)/[a-z0-9][a-z0-9-]*$"

--- The pages and HSTS header of the agent's configuration, and the port of redirects.
function _M.configure(not_found, maintenance, hsts_value, redirect_port)
    pages.not_found, pages.maintenance, hsts = not_found, maintenance, hsts_value
    https_suffix = redirect_port == 443 and "" or (":" .. redirect_port)
end

local function host_entry(host)
    local value = store:get("h:" .. host)
    if value ~= nil then
        return value
    end
    local rest = host
    while true do
        local dot = rest:find(".", 1, true)
        if dot == nil or dot == #rest then
            return nil
        end
        rest = rest:sub(dot + 1)
        value = store:get("h:*." .. rest)
        if value ~= nil then
            return value
        end
    end
end

local function parse_networks(text)
    if text == "-" then
        return nil
    end
    local networks = {}
    for entry in text:gmatch("[^,]+") do
        local hex, bits = entry:match("^(%x+)/(%d+)$")
        if hex == nil or (#hex ~= 8 and #hex ~= 32) or tonumber(bits) > #hex * 4 then
            return nil, "not a network: " .. entry:sub(1, 80)
        end
        local bytes = hex:gsub("%x%x", function(pair)
            return string.char(tonumber(pair, 16))
        end)
        networks[#networks + 1] = { bytes, tonumber(bits) }
    end
    if #networks == 0 then
        return nil, "an empty whitelist"
    end
    return networks
end

--- The parsed record of an app ("<flags> <whitelist> <domains...>"), or nil and an error.
local function parse_record(raw)
    local flags, whitelist, rest = raw:match("^([me-]+) (%S+)(.*)$")
    if flags == nil then
        return nil, "not flags and a whitelist"
    end
    local networks, err = parse_networks(whitelist)
    if err ~= nil then
        return nil, err
    end
    local domains = {}
    for token in rest:gmatch("%S+") do
        local domain, certificate = token:match("^([^=]+)=(%S+)$")
        local valid = domain ~= nil and (domain:match(DOMAIN) or domain:match(WILDCARD))
        if not valid or #domain > 253 then
            return nil, "not a domain: " .. token:sub(1, 80)
        end
        domains[domain] = certificate
    end
    return {
        maintenance = flags:find("m", 1, true) ~= nil,
        enforced = flags:find("e", 1, true) ~= nil,
        networks = networks,
        domains = domains,
    }
end

local function conf_of(app)
    local raw = store:get("a:" .. app)
    if raw == nil then
        return nil
    end
    local cached = apps[app]
    if cached ~= nil and cached.raw == raw then
        return cached.conf
    end
    local conf = parse_record(raw)
    apps[app] = { raw = raw, conf = conf }
    return conf
end

local function within(address, network, bits)
    local whole = math.floor(bits / 8)
    if address:sub(1, whole) ~= network:sub(1, whole) then
        return false
    end
    local rest = bits % 8
    if rest == 0 then
        return true
    end
    local mask = bit.band(bit.lshift(0xff, 8 - rest), 0xff)
    local index = whole + 1
    return bit.band(address:byte(index), mask) == bit.band(network:byte(index), mask)
end

local MAPPED = string.rep("\0", 10) .. "\255\255"

local function allowed(networks)
    local address = ngx.var.binary_remote_addr or ""
    if #address == 16 and address:sub(1, 12) == MAPPED then
        address = address:sub(13) -- an IPv4 client on a dual-stack socket
    end
    for _, network in ipairs(networks) do
        if #network[1] == #address and within(address, network[1], network[2]) then
            return true
        end
    end
    return false
end

local function page(status, text)
    ngx.status = status
    ngx.header["Content-Type"] = "text/html"
    ngx.print(text)
    return ngx.exit(ngx.HTTP_OK)
end

--- Access phase of the catch-all servers' `location /`.
function _M.route(https)
    local host = ngx.var.host
    local entry = host ~= nil and host ~= "" and host_entry(host) or nil
    local app, certificate
    if entry ~= nil then
        app, certificate = entry:match("^(%S+) (%S+)$")
    end
    local conf = app ~= nil and conf_of(app) or nil
    if conf == nil or (https and certificate == "-") then
        return page(ngx.HTTP_NOT_FOUND, pages.not_found)
    end
    ngx.var.deis_app = app
    if conf.networks ~= nil and not allowed(conf.networks) then
        return ngx.exit(ngx.HTTP_FORBIDDEN)
    end
    if conf.enforced and certificate ~= "-" then
        if not https then
            return ngx.redirect("https://" .. host .. https_suffix .. ngx.var.request_uri, 301)
        end
        ngx.var.deis_hsts = hsts
    end
    if conf.maintenance then
        return page(ngx.HTTP_SERVICE_UNAVAILABLE, pages.maintenance)
    end
    return balancer.admit(app)
end

local function load_pair(id)
    local pair = pairs_cache:get(id)
    if pair ~= nil then
        return pair
    end
    local raw = store:get("c:" .. id)
    if raw == nil then
        return nil, "no certificate " .. id
    end
    local split = raw:find("\0", 1, true)
    local chain, err = ssl.parse_pem_cert(raw:sub(1, split - 1))
    if chain == nil then
        return nil, err
    end
    local key
    key, err = ssl.parse_pem_priv_key(raw:sub(split + 1))
    if key == nil then
        return nil, err
    end
    pair = { chain, key }
    pairs_cache:set(id, pair)
    return pair
end

--- `ssl_certificate_by_lua_block` of the catch-all HTTPS server.
function _M.certificate()
    local name = ssl.server_name()
    local entry = name ~= nil and host_entry(name:lower()) or nil
    local id = entry ~= nil and entry:match(" (%S+)$") or nil
    if id == nil or id == "-" then
        return ngx.exit(ngx.ERROR) -- as `ssl_reject_handshake` does for unknown names
    end
    local pair, err = load_pair(id)
    local ok = pair ~= nil and ssl.clear_certs()
    if ok then
        ok, err = ssl.set_cert(pair[1])
    end
    if ok then
        ok, err = ssl.set_priv_key(pair[2])
    end
    if not ok then
        ngx.log(ngx.ERR, "deis routes: certificate ", id, " for ", name, ": ", err)
        return ngx.exit(ngx.ERROR)
    end
end

local function check_certificate(fields)
    local id, chain, key = fields[2], fields[3], fields[4]
    local owner = id ~= nil and id:match(CERTIFICATE)
    if not owner or #id > 200 or chain == nil or key == nil or fields[5] ~= nil then
        return nil, nil, "not a certificate line"
    end
    chain, key = ngx.decode_base64(chain), ngx.decode_base64(key)
    if chain == nil or key == nil then
        return owner, nil, "certificate " .. id .. ": not base64"
    end
    local _, err = ssl.parse_pem_cert(chain)
    if err == nil then
        _, err = ssl.parse_pem_priv_key(key)
    end
    if err ~= nil then
        return owner, nil, "certificate " .. id .. ": " .. err
    end
    return owner, { id = id, value = chain .. "\0" .. key }
end

local function check_app(line, fields)
    local app = fields[2]
    if app == nil or #app > 63 or app:match(APP) == nil then
        return nil, nil, "not an app name in: " .. line:sub(1, 80)
    end
    if fields[1] == "gone" then
        return app, { gone = true }, fields[3] ~= nil and "one app per gone line" or nil
    end
    local raw = line:match("^app %S+ (.*)$")
    local conf, err = parse_record(raw or "")
    if conf == nil then
        return app, nil, err
    end
    for _, certificate in pairs(conf.domains) do
        if certificate ~= "-" and certificate:match(CERTIFICATE) ~= app then
            return app, nil, "a certificate of another app: " .. certificate:sub(1, 80)
        end
    end
    return app, { raw = raw, conf = conf }
end

--- Every line checked: per app, its record (or gone) and its certificates; or nil, error.
local function parse(body)
    if body ~= "" and body:sub(-1) ~= "\n" then
        return nil, "every line ends with a newline"
    end
    local changes, certificates, order = {}, {}, {}
    for line in body:gmatch("([^\n]*)\n") do
        local fields = {}
        for field in line:gmatch("%S+") do
            fields[#fields + 1] = field
        end
        local app, value, err
        if fields[1] == "cert" then
            app, value, err = check_certificate(fields)
            if value ~= nil then
                certificates[#certificates + 1] = value
            end
        elseif fields[1] == "app" or fields[1] == "gone" then
            app, value, err = check_app(line, fields)
            if err == nil and changes[app] ~= nil then
                err = "app named twice"
            end
            if err == nil then
                changes[app] = value
                order[#order + 1] = app
            end
        else
            err = "not an app, cert or gone line: " .. line:sub(1, 80)
        end
        if err ~= nil then
            return nil, app ~= nil and ("app " .. app .. ": " .. err) or err
        end
    end
    return { changes = changes, certificates = certificates, order = order }
end

local function old_domains(app)
    local raw = store:get("a:" .. app)
    local conf = raw ~= nil and parse_record(raw) or nil
    return conf ~= nil and conf.domains or {}
end

local function forget(app, keep)
    for domain, certificate in pairs(old_domains(app)) do
        if keep[domain] == nil then
            local holder = store:get("h:" .. domain)
            if holder ~= nil and holder:match("^(%S+)") == app then
                store:delete("h:" .. domain)
            end
        end
        if certificate ~= "-" and not keep["=" .. certificate] then
            store:delete("c:" .. certificate)
        end
    end
end

local function set(key, value)
    local ok, err = store:safe_set(key, value)
    if not ok then
        return nil, "cannot store " .. key .. ": " .. err
    end
    return true
end

local function apply(app, change, written)
    if change.gone then
        forget(app, {})
        store:delete("a:" .. app)
        return true
    end
    local keep = {}
    for domain, certificate in pairs(change.conf.domains) do
        keep[domain], keep["=" .. certificate] = true, true
    end
    forget(app, keep)
    local ok, err = set("a:" .. app, change.raw)
    written["a:" .. app] = true
    for domain, certificate in pairs(change.conf.domains) do
        if not ok then
            break
        end
        ok, err = set("h:" .. domain, app .. " " .. certificate)
        written["h:" .. domain], written["c:" .. certificate] = true, true
    end
    return ok, err
end

local function held()
    local lines = {}
    for _, key in ipairs(store:get_keys(0)) do
        local app = key:match("^a:(.+)$")
        local raw = app ~= nil and store:get(key) or nil
        if raw ~= nil then
            lines[#lines + 1] = "app " .. app .. " " .. raw
        end
    end
    return lines
end

--- `location = /routes` on the agent's socket: GET the apps, PUT all of them, PATCH some.
function _M.update()
    local method, body = socket.accept({ PUT = true, PATCH = true }, held)
    if method == nil then
        return
    end
    local parsed, err = parse(body)
    if parsed == nil then
        return reply(400, err .. "\n")
    end
    local written = {}
    for _, certificate in ipairs(parsed.certificates) do
        local ok, set_err = set("c:" .. certificate.id, certificate.value)
        if not ok then
            return reply(507, set_err .. "\n")
        end
    end
    for _, app in ipairs(parsed.order) do
        local ok, set_err = apply(app, parsed.changes[app], written)
        if not ok then
            return reply(507, "app " .. app .. ": " .. set_err .. "\n")
        end
    end
    if method == "PUT" then
        for _, key in ipairs(store:get_keys(0)) do
            if not written[key] then
                store:delete(key) -- an app, host or certificate no app line named
            end
        end
    end
    return reply(ngx.HTTP_OK, "ok " .. #parsed.order .. "\n")
end

return _M
