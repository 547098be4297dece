"""Render the main nginx file of a release: process and HTTP settings, default servers, status.

It names no app: every app is served by the catch-all servers of `hosting`, from the route
table the agent fills through its socket, so the file changes only with the agent's settings.

The status server listens on 127.0.0.1 only and answers `GET /revision` with the revision this
configuration was rendered for: after a reload the agent polls it until the new revision
answers, which is when new workers serve the new configuration (a SIGHUP returning says nothing
about that). The Lua balancer's
parts (its module, shared dict and endpoints socket) come from `balancing`. The platform's
own services (the controller's server, the builder's `stream` block), when the router fronts
them, come from `platform`.
"""

from deis_router_agent.domain import balancing, hosting, platform, syntax
from deis_router_agent.domain.options import Options

GZIP_TYPES = (
    "text/plain text/css text/xml text/javascript application/json application/javascript "
    "application/xml application/xml+rss image/svg+xml"
)


def render_main(*, options: Options, revision: int) -> str:
    """The `nginx.conf` of revision `revision`."""
    paths = options.paths
    temp = paths.temp
    user = [f"user {options.worker_user};"] if options.worker_user else []
    access = (
        f"access_log {syntax.path(paths.logs / 'access.log')};"
        if options.access_log
        else "access_log off;"
    )
    body_size = f"{options.client_max_body_size}m" if options.client_max_body_size else "0"
    lines = [
        f"# deis router, revision {revision}",
        *platform.main_lines(options),
        *balancing.main_lines(options),
        "daemon off;",
        "master_process on;",
        *user,
        f"worker_processes {options.worker_processes};",
        f"worker_shutdown_timeout {syntax.duration(options.worker_shutdown_timeout)};",
        f"pid {syntax.path(paths.pid)};",
        f"error_log {syntax.path(paths.logs / 'error.log')} warn;",
        f"events {{ worker_connections {options.worker_connections}; }}",
        "http {",
        f"    {access}",
        f"    client_body_temp_path {syntax.path(temp / 'body')};",
        f"    proxy_temp_path {syntax.path(temp / 'proxy')};",
        f"    fastcgi_temp_path {syntax.path(temp / 'fastcgi')};",
        f"    uwsgi_temp_path {syntax.path(temp / 'uwsgi')};",
        f"    scgi_temp_path {syntax.path(temp / 'scgi')};",
        "    server_tokens off;",
        "    default_type text/html;",
        "    server_names_hash_bucket_size 128;",
        "    server_names_hash_max_size 65536;",
        "    variables_hash_bucket_size 128;",
        "    variables_hash_max_size 65536;",
        f"    keepalive_timeout {syntax.duration(options.keepalive_timeout)};",
        f"    client_max_body_size {body_size};",
        "    gzip on;",
        "    gzip_vary on;",
        "    gzip_proxied any;",
        "    gzip_min_length 256;",
        f"    gzip_types {GZIP_TYPES};",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_session_cache shared:deis_tls:10m;",
        "    map $http_upgrade $deis_connection { default upgrade; '' ''; }",
        "    proxy_http_version 1.1;",
        f"    proxy_connect_timeout {syntax.duration(options.proxy_connect_timeout)};",
        f"    proxy_read_timeout {syntax.duration(options.proxy_read_timeout)};",
        f"    proxy_send_timeout {syntax.duration(options.proxy_send_timeout)};",
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Forwarded-Port $server_port;",
        "    proxy_set_header X-Request-Id $request_id;",
        "    proxy_set_header Upgrade $http_upgrade;",
        "    proxy_set_header Connection $deis_connection;",
        "    server {",
        f"        listen 127.0.0.1:{options.status_port};",
        "        server_name _;",
        "        access_log off;",
        f'        location = /revision {{ return 200 "{revision}"; }}',
        "        location / { return 404; }",
        "    }",
        *(f"    {line}" for line in platform.http_lines(options)),
        *(f"    {line}" for line in balancing.http_lines(options)),
        *(f"    {line}" for line in hosting.server_lines(options, upstream=balancing.UPSTREAM)),
        "}",
        *platform.stream_lines(options),
    ]
    return "\n".join(lines) + "\n"
