"""The base of every connector's helpdesk API calls (the shape of Sentry's integration ApiClient).

An ApiClient knows one helpdesk account: its API root, how a call authenticates, and which
statuses mean something particular to it (Zendesk's 422 on a closed ticket). It sends through the
shared HttpClient, which gives every call its timeouts, retries, the shared rate limit and the
mapping of failures to connectors/errors.py. A connector reads `self.api`; one that needs a habit
of its own (Help Scout's token refresh) subclasses ApiClient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Optional

import requests

from ces.connectors.errors import ApiError, PermanentApiError
from ces.connectors.http import HttpClient

# Where the next page is, given a page's response and its JSON: a URL (with no more parameters),
# (path or URL, parameters), or None at the last page.
NextPage = Callable[[requests.Response, Any], Optional[str | tuple[str, Optional[dict]]]]


def link_header(resp: requests.Response, data: Any) -> str | None:
    """RFC 8288 `Link: <…>; rel="next"` (Freshdesk's lists)."""
    return (resp.links.get("next") or {}).get("url")


def json_link(*keys: str) -> NextPage:
    """A next-page URL inside the body, at `keys` (Front's `_pagination.next`)."""
    def rule(resp: requests.Response, data: Any) -> str | None:
        for key in keys:
            data = data.get(key) if isinstance(data, dict) else None
        return data or None
    return rule


def bearer(token: str | None) -> dict[str, Any]:
    """The requests keyword arguments of a bearer token (what most helpdesks' APIs take)."""
    return {"headers": {"Authorization": f"Bearer {token}"}}


def optional_str(value: object) -> str | None:
    """An id or a name as text; absent and empty are both None."""
    return None if value in (None, "") else str(value)


class ApiClient:
    def __init__(self, http: HttpClient, base_url: str, *, title: str, rate_key: str, per_minute: int,
                 auth: Callable[[], dict[str, Any]] = dict, errors: Mapping[int, tuple[type[ApiError], str]] = {}):
        self.http, self.base_url, self.title = http, base_url.rstrip("/"), title
        self.rate_key, self.per_minute, self.auth = rate_key, per_minute, auth
        # status → (error type, what it means), for statuses that say more at this helpdesk
        self.errors = errors

    def url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, label: str, **kwargs: Any) -> requests.Response:
        """One call: `path` below the API root, or a whole URL (a next-page link)."""
        auth = self.auth()
        if "headers" in auth and "headers" in kwargs:
            kwargs["headers"] = {**auth.pop("headers"), **kwargs["headers"]}
        try:
            return self.http.request(method, self.url(path), label=f"{self.title} {label}", rate_key=self.rate_key,
                                     per_minute=self.per_minute, **auth, **kwargs)
        except PermanentApiError as exc:
            if exc.status not in self.errors:
                raise
            error, meaning = self.errors[exc.status]
            raise error(f"{exc.detail}: {meaning}", status=exc.status, body=exc.body, cause=exc.cause) from None

    def get_json(self, path: str, label: str, **params: Any) -> Any:
        resp = self.request("GET", path, label=label, params=params or None)
        return resp.json() if resp.content else {}

    def write(self, method: str, path: str, label: str, body: Any = None, **kwargs: Any) -> Any:
        """A change (POST, PUT, PATCH, DELETE) with a JSON body; the answer's JSON, {} when empty."""
        resp = self.request(method, path, label=label, json=body, **kwargs)
        return resp.json() if resp.content else {}

    def paginate(self, path: str, label: str, next_page: NextPage, *, params: dict | None = None,
                 pages: int = 50) -> Iterator[Any]:
        """Each page's JSON, following `next_page`, at most `pages` of them."""
        query: dict | None = params
        for _ in range(pages):
            resp = self.request("GET", path, label=label, params=query)
            data = resp.json() if resp.content else {}
            yield data
            step = next_page(resp, data)
            if not step:
                return
            path, query = (step, None) if isinstance(step, str) else step
