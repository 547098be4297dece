"""The local backend's runtime: app processes as OS processes on this host.

`slugs` fetches a release's slug from the object store and unpacks it once; `processes` runs
one Procfile command in a process group of its own (as an unprivileged user when the scheduler
is root) and pumps its output; `health` tells when a process is ready for traffic; `shipping`
forwards output lines to the log bus without ever letting a slow or absent bus block an app.
These are the pieces the use cases in `app` compose; none of them knows about releases' desired
state or KV.
"""
