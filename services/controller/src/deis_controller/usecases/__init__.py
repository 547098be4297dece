"""Use cases: what each API call does to the database and the outbox; no HTTP here."""
