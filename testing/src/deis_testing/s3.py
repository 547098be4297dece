"""moto's S3 server in a thread, on a free port (as aiobotocore's own tests run it).

moto is imported when a server is made, not with this module: it takes 1.5 s to import, and
every pytest process loads the plugin, most of them (and pytester's) without needing S3.
"""

from deis_testing.ports import free_port, wait_for_port


class S3Server:
    """An S3-compatible endpoint at `endpoint_url`; credentials are not checked."""

    access_key = "testing"
    secret_key = "testing"
    region = "us-east-1"

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer  # imported here: see the module docstring

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._started = False

    @property
    def endpoint_url(self) -> str:
        """The endpoint to give an S3 client."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving and wait until the port accepts connections."""
        self._server.start()
        self._started = True
        wait_for_port(self.port, timeout=10)

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        if self._started:
            self._started = False
            self._server.stop()
