"""`deisctl`: the whole platform on this machine, started, supervised and stopped by one command."""
