"""The static pages nginx answers by itself: unknown host, maintenance, nothing running.

They are written into the configuration as `return <code> "<page>"` strings, so they must not
contain a double quote, a backslash, `$` (a variable to nginx) or `;`; a test checks it. None
names an app: the 404 page of the default server answers any host, including probes for which
apps exist.
"""

NOT_FOUND = (
    "<!doctype html><html><head><title>404 Not Found</title></head>"
    "<body><h1>404 Not Found</h1><p>No app is served at this address.</p></body></html>\n"
)

MAINTENANCE = (
    "<!doctype html><html><head><title>503 Maintenance</title></head>"
    "<body><h1>Down for maintenance</h1>"
    "<p>This app is undergoing maintenance. Please try again shortly.</p></body></html>\n"
)

UNAVAILABLE = (
    "<!doctype html><html><head><title>503 Service Unavailable</title></head>"
    "<body><h1>503 Service Unavailable</h1>"
    "<p>This app has no running web process.</p></body></html>\n"
)

ALL = (NOT_FOUND, MAINTENANCE, UNAVAILABLE)
