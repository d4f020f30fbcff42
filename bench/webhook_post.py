"""CPU per webhook post: the poster's kept-alive link beside urllib3's request, as before.

POSTS (3,000; 20,000 with TOCSIN_BENCH_FULL=1) posts of a storm page's webhook body to the
paging bench's receiver (a process of its own, HTTP/1.1 keep-alive, 200 with no body), from
1 thread and from 4 sharing the poster, as the delivery threads do. The figure is this
process's CPU time per post (the receiver's is not counted): it suffers less from a busy
machine than rates do. "urllib3" is the route the poster took before (and still takes
through a proxy): the session adapter's pool's urlopen, http.client underneath.
"""

from __future__ import annotations

import os
import threading
import time

from bench.receiver import Receiver
from tocsin.bridge.notify.channels.http import JsonPoster

POSTS = 20_000 if os.environ.get("TOCSIN_BENCH_FULL") else 3_000
WARM = 200


def body(number: int) -> dict[str, object]:
    """Return a webhook body of a storm page's size (about 1 KB), its instance label unique."""
    labels = {"alertname": "HostDown", "instance": f"bench-{number}", "severity": "critical"}
    return {
        "version": "1",
        "event": "opened",
        "incident": {"id": number, "title": "Host bench is down", "priority": "P1"},
        "alerts": [{"labels": labels, "annotations": {"summary": "no scrape for 2 minutes"}}],
        "links": {"ack": f"https://tocsin.example/ack/{'x' * 120}", "board": "https://b/"},
        "text": "主机不可达 host unreachable " * 12,
    }


def poster(port: int, route: str) -> JsonPoster:
    """Return a poster for the receiver, on its link or (route "urllib3") on urlopen as before."""
    made = JsonPoster("bench", f"http://127.0.0.1:{port}/hook", timeout=10)
    if route == "urllib3":
        made._route = made._route_to(made.url)._replace(link=None)
    return made


def run(made: JsonPoster, threads: int, start: int) -> float:
    """Post POSTS bodies from `threads` threads; return this process's CPU us per post."""
    bodies = [body(start + n) for n in range(POSTS)]
    for n in range(WARM):
        made.post(bodies[n], key=f"warm-{start + n}")
    share = POSTS // threads

    def lane(first: int) -> None:
        for n in range(first, first + share):
            made.post(bodies[n], key=f"bench-{start + n}")

    lanes = [threading.Thread(target=lane, args=(t * share,)) for t in range(threads)]
    cpu = time.process_time()
    for each in lanes:
        each.start()
    for each in lanes:
        each.join(600)
    return (time.process_time() - cpu) / (share * threads) * 1e6


def main() -> int:
    """Post through both routes from 1 and 4 threads; print CPU per post and the ratio."""
    receiver = Receiver()
    try:
        start = 0
        for threads in (1, 4):
            figures = {}
            for route in ("urllib3", "link"):
                figures[route] = run(poster(receiver.port, route), threads, start)
                start += POSTS
            print(
                f"{POSTS:,} posts, {threads} thread(s): link {figures['link']:.0f} us CPU a post, "
                f"urllib3 (before) {figures['urllib3']:.0f} us: "
                f"{figures['urllib3'] / figures['link']:.1f}x less; load "
                + " ".join(f"{v:.2f}" for v in os.getloadavg()),
                flush=True,
            )
    finally:
        receiver.close()
    return 0
