"""Use cases of the builder: repositories, push locks, history, the build and its outcome."""
