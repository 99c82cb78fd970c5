"""Is a POST from our own page? The sign-in button has no session yet, so no CSRF token can
protect it: a page elsewhere could post a stolen or its own sign-in link and leave a session
cookie in the victim's browser (login CSRF). Browsers say where a POST comes from (`Origin`,
else `Referer`); it must be the public URL's origin (`BAOCAO_PUBLIC_URL`), or when that is not
set, the host the request was sent to. A request that says nothing, or `Origin: null`, is
refused: a browser always says it for a form of ours (the sign-in page's referrer policy is
`same-origin` for that reason).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str | None) -> str | None:
    """ "https://baocao.example.vn:443/web/" → "https://baocao.example.vn" (None if not a URL)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def sent_origin(request: web.Request) -> str | None:
    sent = request.headers.get("Origin")
    if sent and sent != "null":
        return origin_of(sent)
    return origin_of(request.headers.get("Referer"))


def from_our_page(request: web.Request, public_url: str | None) -> bool:
    sent = sent_origin(request)
    if sent is None:
        return False
    expected = origin_of(public_url)
    if expected is not None:
        return sent == expected
    # No public URL: the host the browser sent this request to (scheme unknown behind a proxy).
    host = (request.host or "").lower()
    return sent.split("://", 1)[1] in {host, host.removesuffix(":80"), host.removesuffix(":443")}
