"""Prometheus metrics of one server process (``GET /metrics``).

Each process has its own registry: with several worker processes each
reports its own counts (scrape them one by one, or run one process per port).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "screener_http_requests",
            "HTTP requests by route, method and status",
            ["path", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "screener_http_request_seconds", "Time to answer a request", ["path"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.listings = Counter("screener_listings_screened", "Listings screened through the API", registry=r)
        self.flagged = Counter("screener_listings_flagged", "Listings screened through the API with a hit", registry=r)
        self.hits = Counter("screener_hits", "Hits found through the API, by category", ["category"], registry=r)
        self.generation = Gauge(
            "screener_rules_generation", "Rule set generation (1 at start, +1 per reload)", registry=r
        )
        self.reload_failures = Counter(
            "screener_rules_reload_failures", "Reloads refused because the rule files did not load", registry=r
        )

    def observe(self, path: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(path, method, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def screened(self, results: list[dict]) -> None:
        self.listings.inc(len(results))
        for res in results:
            if res["flagged"]:
                self.flagged.inc()
            for h in res["hits"]:
                self.hits.labels(h["category"] or "").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
