"""The builder's SSH server (asyncssh): the only package that talks SSH."""
