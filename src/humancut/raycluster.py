"""Starting or joining Ray for humancut (humancut[ray]), and `humancut serve --ray`.

A Ray started here is one node on loopback: Ray binds the machine's external address by
default, and RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (Ray's own switch for laptops) makes every
Ray process bind 127.0.0.1. It must be in the environment before `ray` is imported, since
Ray reads it at import and its child processes inherit it; hence the lazy imports."""

from __future__ import annotations

import os
import signal
import sys
import threading

from .settings import Settings

# A local, loopback-only Ray that phones nowhere (setdefault: the caller's values win).
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def connect(settings: Settings) -> bool:
    """Join `ray_address`, or start a single-node Ray on loopback; True when started here
    (so this process should stop it). A no-op when already connected."""
    if not settings.ray_address:
        for name, value in LOCAL_ENV.items():
            os.environ.setdefault(name, value)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return False
    if settings.ray_address:
        ray.init(address=settings.ray_address, log_to_driver=False)
        return False
    # "local": a new instance, never one found on the machine (`ray start`, RAY_ADDRESS).
    ray.init(address="local", num_cpus=settings.ray_cpus or None, include_dashboard=False,
             _node_ip_address="127.0.0.1", log_to_driver=False)
    return True


def serve_forever(settings: Settings) -> int:
    """Deploy the humancut app on Serve (HTTP on settings.host:port) and wait for Ctrl-C or
    SIGTERM; then remove Serve from the cluster and disconnect (stopping a Ray started
    here)."""
    connect(settings)  # first: it sets the environment Ray reads at import
    import ray
    from ray import serve

    from .runner.ray import APP, build_app

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port},
                    proxy_location="HeadOnly")
        serve.run(build_app(settings), name=APP, route_prefix="/")
        print(f"humancut: serving on http://{settings.host}:{settings.port}/ (Ray Serve, "
              f"{settings.ray_min_replicas}-{settings.ray_max_replicas} model replicas)",
              file=sys.stderr, flush=True)
        stop.wait()
    finally:
        print("humancut: stopping Ray Serve", file=sys.stderr, flush=True)
        serve.shutdown()  # Serve's actors are detached: they would outlive this process
        ray.shutdown()
        print("humancut: stopped", file=sys.stderr, flush=True)
    return 0


_patched = False


def keep_replica_on_loopback() -> None:
    """Called in each replica: Ray Serve 2.60 replicas open an inter-deployment gRPC server
    on [::]:0 whatever the node's address (serve/_private/replica.py); on a loopback node
    bind it to 127.0.0.1 like the rest of Ray."""
    global _patched
    import ray
    from ray.serve._private import replica

    if _patched or ray.util.get_node_ip_address() != "127.0.0.1":
        return
    original = replica.add_port_to_grpc_server

    def on_loopback(server: object, address: str) -> int:
        return original(server, "127.0.0.1:0" if address == "[::]:0" else address)

    replica.add_port_to_grpc_server = on_loopback
    _patched = True
