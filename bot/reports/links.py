"""Checking that links still work: concurrently, with a time limit per link, HEAD before GET."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver

USER_AGENT = "Buergerbot-link-check/1 (the city chatbot checking its own links)"


@dataclass(frozen=True)
class LinkCheck:
    url: str
    status: int | None  # the final HTTP status after redirects; None when nothing answered
    error: str | None  # why the link counts as broken; None when it works

    @property
    def ok(self) -> bool:
        return self.error is None


async def check_links(urls: Iterable[str], timeout: float = 10.0, concurrency: int = 16,
                      resolver: AbstractResolver | None = None) -> dict[str, LinkCheck]:
    """Every distinct URL checked once. ``resolver`` replaces DNS (tests)."""
    unique = list(dict.fromkeys(urls))
    if not unique:
        return {}
    slots = asyncio.Semaphore(concurrency)
    # As many connections per host as links in flight: city links mostly share one host, and a link
    # waiting for a connection inside its own time limit would be reported as broken.
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, resolver=resolver) if resolver else \
        aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT},
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:

        async def one(url: str) -> LinkCheck:
            async with slots:  # the time limit starts when the link's turn comes, not while it queues
                return await _check(session, url, timeout)

        results = await asyncio.gather(*(one(url) for url in unique))
    return {r.url: r for r in results}


async def _check(session: aiohttp.ClientSession, url: str, timeout: float) -> LinkCheck:
    try:
        async with asyncio.timeout(timeout):
            status = await _status(session, "HEAD", url)
            if status >= 400:
                # Many servers refuse HEAD (403, 405, 501) for pages that work: only GET decides.
                status = await _status(session, "GET", url)
    except TimeoutError:
        return LinkCheck(url, None, f"no answer within {timeout:g} s")
    except aiohttp.ClientConnectorDNSError:
        return LinkCheck(url, None, "host not found (DNS lookup failed)")
    except aiohttp.InvalidURL:
        return LinkCheck(url, None, "not a valid URL")
    except aiohttp.ClientError as exc:
        return LinkCheck(url, None, f"request failed: {exc or type(exc).__name__}")
    return LinkCheck(url, status, f"HTTP {status}" if status >= 400 else None)


async def _status(session: aiohttp.ClientSession, method: str, url: str) -> int:
    async with session.request(method, url, allow_redirects=True) as response:
        return response.status  # leaving the block drops the body unread
