"""The `deis` command for application developers (`deisctl`, for operators, comes separately)."""
