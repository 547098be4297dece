"""App and platform log lines: the LOGS stream, tail, follow and archive."""
