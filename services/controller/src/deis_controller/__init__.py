"""The Deis v2 controller: REST API, builder RPCs and the build-event consumer."""
