"""KV values: the level-triggered part of the contract, one JetStream KV bucket per module.

Each module names its bucket (`BUCKET`), builds its keys (`key(app)`, the validated app name),
defines the value model, and describes the three as `SPEC` (a `bucket.Bucket`), through which
`deis_shared.bus.kv` puts, deletes, gets and watches. A value is always the whole state of one
app, never a delta: a watcher that restarts reads the latest value of every key and converges.
Deleting the key means the app is gone.
"""
