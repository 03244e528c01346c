"""Starting or joining Ray for humancut (humancut[ray]), and what each replica sets up:
its settings, a loopback-only gRPC server.

A Ray started here is one node on loopback: Ray binds the machine's external address by
default, and RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (Ray's own switch for laptops) makes every
Ray process bind 127.0.0.1. It must be in the environment before `ray` is imported, since
Ray reads it at import and its child processes inherit it; hence the lazy imports."""

from __future__ import annotations

import os

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


def replica_settings(settings: Settings) -> Settings:
    """onnxruntime threads: the replica's CPU share unless set (one per core of the whole
    machine would oversubscribe it as soon as there are two replicas)."""
    if settings.threads:
        return settings
    return settings.replace(threads=max(1, round(settings.ray_num_cpus)))


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
