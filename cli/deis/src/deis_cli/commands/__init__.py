"""The `deis` commands, one module per topic; `main` gathers them into one group."""
