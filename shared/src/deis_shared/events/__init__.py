"""Events: durable, edge-triggered facts on the JetStream stream `EVENTS` (`deis.events.>`).

One module per subject family (`build`, `release`, `deploy`, `router`), each holding its models
and the functions that build its subjects. Events are published with their `id` as
`Nats-Msg-Id`, so a relay that publishes twice is de-duplicated by the server. Log lines travel
on their own stream (`LOGS`, see `events.logs`), not on `EVENTS`.
"""

STREAM = "EVENTS"
"""Name of the JetStream stream holding every event."""

SUBJECTS = "deis.events.>"
"""Subject filter of the `EVENTS` stream."""
