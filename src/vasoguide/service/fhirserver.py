"""Fetching what the prefetch did not bring, from the client's FHIR server, within a time budget.

The access token from `fhirAuthorization` is used for these requests only: never stored, never
logged, dropped with the request. `next` links of searchsets are followed up to a page limit.
Any failure (timeout, 4xx/5xx, non-FHIR answer) becomes `FetchError`, which the hook turns into
412 Precondition Failed with an OperationOutcome, as the spec requires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["FetchError", "FhirFetcher"]


class FetchError(Exception):
    """Required data could not be had; the message names the key, never the token or data."""


class FhirFetcher:
    def __init__(
        self, client: httpx.AsyncClient, *, timeout_s: float, max_pages: int, allow_http: bool
    ) -> None:
        self._client = client
        self._timeout = timeout_s
        self._max_pages = max_pages
        self._allow_http = allow_http

    def check_server(self, base: str) -> None:
        scheme = urlsplit(base).scheme
        if scheme != "https" and not (self._allow_http and scheme == "http"):
            raise FetchError("fhirServer must be an https URL")

    async def fetch_all(
        self, base: str, token: str | None, queries: Mapping[str, str]
    ) -> dict[str, Any]:
        """key -> resource or Bundle (None for a read that found nothing)."""
        self.check_server(base)
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        root = base.rstrip("/") + "/"
        keys = list(queries)
        try:
            async with asyncio.timeout(self._timeout):
                results = await asyncio.gather(
                    *(self._fetch(root, queries[k], headers, k) for k in keys)
                )
        except TimeoutError:
            raise FetchError(f"the FHIR server did not answer within {self._timeout:g} s") from None
        return dict(zip(keys, results, strict=True))

    async def _get(self, url: str, headers: dict[str, str], key: str) -> httpx.Response:
        try:
            return await self._client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise FetchError(f"{key}: FHIR server unreachable ({type(exc).__name__})") from None

    async def _fetch(self, root: str, query: str, headers: dict[str, str], key: str) -> Any:
        response = await self._get(urljoin(root, query), headers, key)
        if response.status_code == 404 and "?" not in query:
            return None  # a read that found nothing: "no data", as a null prefetch would say
        data = self._json(response, key)
        if data.get("resourceType") != "Bundle":
            return data
        entries = list(data.get("entry") or [])
        pages = 1
        next_url = _next_link(data)
        while next_url and pages < self._max_pages:
            if urlsplit(next_url).netloc not in ("", urlsplit(root).netloc):
                raise FetchError(f"{key}: a next link points to another server")
            page = self._json(await self._get(urljoin(root, next_url), headers, key), key)
            entries += list(page.get("entry") or [])
            next_url, pages = _next_link(page), pages + 1
        return {**data, "entry": entries}

    @staticmethod
    def _json(response: httpx.Response, key: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise FetchError(f"{key}: FHIR server answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise FetchError(f"{key}: FHIR server answer is not JSON") from None
        if not isinstance(data, dict):
            raise FetchError(f"{key}: FHIR server answer is not a resource")
        if data.get("resourceType") == "OperationOutcome":
            raise FetchError(f"{key}: FHIR server returned an OperationOutcome")
        return data


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) else None
    return None
