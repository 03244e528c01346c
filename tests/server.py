"""A real `humancut serve` in a subprocess, for tests that talk HTTP to it: the helper lives
in the package (humancut.bench.servers), shared with `humancut bench`.

    from server import ROUTE, Server, start

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        srv = start(tmp_path_factory.mktemp("srv"), extra_args=["--workers", "1"])
        # or: srv = Server(tmp_path_factory.mktemp("srv") / "data").start()
        yield srv
        srv.stop()

    key = server.create_key(credits=5)
    httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key}, ...)
"""

from humancut.api import ROUTE
from humancut.bench.servers import HOST, free_port, start
from humancut.bench.servers import HumancutProcess as Server

__all__ = ["HOST", "ROUTE", "Server", "free_port", "start"]
