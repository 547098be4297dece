"""What `deisctl` reports as one line and a non-zero exit."""


class CtlError(Exception):
    """An operator-facing failure: the message says what is wrong and what to do."""
