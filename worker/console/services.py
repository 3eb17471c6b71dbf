"""What the console's handlers share in one process: the Argon2 pool and the sign-in throttle."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ces.worker.console.address import client_address
from ces.worker.console.passwords import HashPool
from ces.worker.console.throttle import Throttle


@dataclass
class Services:
    hash_pool: HashPool
    throttle: Throttle

    @classmethod
    def build(cls, settings) -> Services:
        return cls(HashPool(settings.console.hash_workers, settings.console.hash_queue), Throttle(settings))


def services(request: Request) -> Services:
    return request.app.state.console


def rt_of(request: Request):
    return request.app.state.rt


def address_of(request: Request) -> str:
    return client_address(request.client.host if request.client else None, request.headers.get("x-forwarded-for"),
                          rt_of(request).settings.http.trusted_proxies)
