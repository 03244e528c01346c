"""Downloading an image the caller names by URL (remove.bg's `image_url`, `bg_image_url`)
without letting the caller reach what only this server can reach (SSRF).

Every hop: http(s) only, the host resolved once, every address it resolves to must be
public (not loopback, private, link-local, metadata, multicast, reserved, nor an IPv6 form
embedding one), and the connection goes to that checked address (the Host header and TLS
name carry the original host), so a second DNS answer cannot swap it. Redirects are
followed by hand, a bounded number of times, each re-checked. Bytes and time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from ..errors import HumancutError

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 3
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def allowed_networks(setting: str) -> tuple[Network, ...]:
    """The `fetch_allow` setting: comma-separated addresses or networks."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in setting.split(",") if part.strip())


def embedded_ipv4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IP) -> bool:
    """Globally routable unicast: what a server may fetch from on a caller's behalf."""
    inner = embedded_ipv4(ip)
    if inner is not None and not is_public(inner):
        return False
    if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped or ip in NAT64):
        return True  # only a carrier for `inner`, which is public
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local or ip.is_private)


def may_fetch(ip: IP, allow: Sequence[Network] = ()) -> bool:
    if any(ip in net for net in allow if net.version == ip.version):
        return True
    inner = embedded_ipv4(ip)
    if inner is not None and any(inner in net for net in allow if net.version == 4):
        return True
    return is_public(ip)


def _invalid(message: str) -> HumancutError:
    return HumancutError("invalid_parameter", message)


def _failed(message: str) -> HumancutError:
    return HumancutError("download_failed", message)


def parse(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL, else invalid_parameter."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise _invalid("The URL is malformed.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("Only absolute http:// and https:// URLs can be fetched.")
    if parts.username is not None or parts.password is not None:
        raise _invalid("URLs with credentials are not fetched.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int, allow: Sequence[Network]) -> IP:
    """The address to connect to; invalid_parameter when any answer is not public (this
    also catches spellings like 2130706433, 0x7f.1 or 127.1, which resolve to 127.0.0.1)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _failed(f"The host {host!r} could not be resolved ({exc}).") from None
    ips = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    refused = [str(ip) for ip in ips if not may_fetch(ip, allow)]
    if refused or not ips:
        raise _invalid(f"The URL points at an address this server does not fetch from "
                       f"({', '.join(refused)}): only public addresses are allowed.")
    return ips[0]


async def _hop(client: httpx.AsyncClient, url: str, allow: Sequence[Network],
               max_bytes: int) -> tuple[str | None, bytes]:
    """One request to the checked address: (the redirect target, b"") or (None, body)."""
    scheme, host, port = parse(url)
    ip = await resolve(host, port, allow)
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    target = httpx.URL(url).copy_with(host=literal.strip("[]"), port=port)
    host_header = host if port in (80, 443) else f"{host}:{port}"
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    request = client.build_request("GET", target, headers={"Host": host_header},
                                   extensions=extensions)
    response = await client.send(request, stream=True)
    try:
        if response.is_redirect and "location" in response.headers:
            return urljoin(url, response.headers["location"]), b""
        if response.status_code != 200:
            raise _failed(f"The server answered HTTP {response.status_code}.")
        return None, await _body(response, max_bytes)
    finally:
        await response.aclose()


async def _body(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HumancutError("file_too_large", f"The image is over {max_bytes} bytes.")
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > max_bytes:
            raise HumancutError("file_too_large", f"The image is over {max_bytes} bytes.")
    return bytes(data)


async def fetch(url: str, *, max_bytes: int, timeout: float,
                allow: Sequence[Network] = (), max_redirects: int = MAX_REDIRECTS) -> bytes:
    """The body of `url`, or HumancutError: invalid_parameter (not a URL we fetch: bad
    scheme, refused address, also after a redirect), download_failed (unreachable, not
    200, too many redirects, too slow), file_too_large."""
    try:
        async with asyncio.timeout(timeout), httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=timeout) as client:
            for _ in range(max_redirects + 1):
                following, body = await _hop(client, url, allow, max_bytes)
                if following is None:
                    return body
                url = following
    except TimeoutError:
        raise _failed(f"The download took longer than {timeout:g} s.") from None
    except httpx.HTTPError as exc:
        raise _failed(f"The download failed ({type(exc).__name__}).") from None
    raise _failed(f"More than {max_redirects} redirects.")
