"""Two Streamlit replicas behind nginx, one PostgreSQL and one data dir; a check-in crowd.

    .venv/bin/python scripts/replicas.py [--phones 100] [--browsers 8]

What it shows (the scale-out path of docs/deployment.md, on loopback):

1. a fresh PostgreSQL database ($IA_EVENTS_BENCH_PG, default postgres@127.0.0.1:5432)
   and one data dir (archive + keys) shared by both replicas;
2. two ``streamlit run streamlit_app.py`` on two loopback ports;
3. Debian's nginx on a third loopback port: a cookie ``ia_route`` set by nginx on
   the first response pins a browser to one replica (``hash ... consistent``),
   because Streamlit keeps uploads and downloads per process; websockets are
   proxied; the access log records ``$upstream_addr`` per request;
4. a crowd through nginx: ``--phones`` simultaneous POST /checkin (httpx, no
   cookies, so they spread over both replicas) and ``--browsers`` Chromium phones;
   one staff browser opens the Streamlit app and every one of its requests,
   websocket included, must have gone to a single replica;
5. the per-replica split from nginx's access log, and a row count: every
   "checked in" answer has exactly one attendance row (nothing lost).

Cleans up after itself: stops nginx and both replicas, drops the database,
removes the temp dir (``--keep`` keeps the dir and its logs). Exit code 1 if
anything was lost or stickiness failed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.checkin import CHROMIUM, CHROMIUM_ARGS, browser_crowd, count, http_crowd, setup
from benchmarks.common import database, free_port, start_streamlit, stop, wait_http

NGINX = "/usr/sbin/nginx"

NGINX_CONF = """
worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {root}/nginx-tmp/body;
    proxy_temp_path {root}/nginx-tmp/proxy;
    fastcgi_temp_path {root}/nginx-tmp/fastcgi;
    uwsgi_temp_path {root}/nginx-tmp/uwsgi;
    scgi_temp_path {root}/nginx-tmp/scgi;
    log_format replica '$remote_addr "$request" $status up=$upstream_addr route=$route_key';
    access_log {root}/nginx-access.log replica;

    # Sticky sessions: the first response sets ia_route; the same value picks the replica.
    map $cookie_ia_route $route_key {{
        ""      $request_id;
        default $cookie_ia_route;
    }}
    map $cookie_ia_route $route_cookie {{
        ""      "ia_route=$request_id; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      close;
    }}
    upstream streamlit {{
        hash $route_key consistent;
        server 127.0.0.1:{port_a};
        server 127.0.0.1:{port_b};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 200m;
        location / {{
            proxy_pass http://streamlit;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;  # with its port: /checkin compares Origin
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Connection "";
            add_header Set-Cookie $route_cookie always;
        }}
        location /_stcore/stream {{
            proxy_pass http://streamlit;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;  # with its port: /checkin compares Origin
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
            add_header Set-Cookie $route_cookie always;
        }}
    }}
}}
"""


async def staff_browser(base: str) -> None:
    """Open the Streamlit app (HTML, JS, websocket) in one browser until it is connected."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = await (await chromium.new_context()).new_page()
        await page.goto(base + "/")
        await page.wait_for_selector(
            '[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=60_000
        )
        await page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=60_000)
        await page.reload()  # a second page load must land on the same replica
        await page.wait_for_selector(
            '[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=60_000
        )
        await chromium.close()


def parse_log(path: Path) -> list[tuple[str, str, str]]:
    """(request line, upstream, route) per access-log line."""
    rows = []
    for line in path.read_text().splitlines():
        request = line.split('"')[1]
        fields = dict(p.split("=", 1) for p in line.rsplit('"', 1)[1].split() if "=" in p)
        rows.append((request, fields.get("up", "-"), fields.get("route", "-")))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=100)
    ap.add_argument("--browsers", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and logs")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ia-replicas-"))
    procs: list[subprocess.Popen[bytes]] = []
    ok = False
    try:
        with database("postgresql", root / "data", "replicas") as url:
            inst, occ_ids, tokens = setup(root / "data", url, occurrences=3)
            port, port_a, port_b = free_port(), free_port(), free_port()
            base = f"http://127.0.0.1:{port}"
            for p in (port_a, port_b):
                procs.append(
                    start_streamlit(root / "data", url, p, root / f"replica-{p}.log", base)
                )
            (root / "nginx-tmp").mkdir()
            conf = root / "nginx.conf"
            conf.write_text(NGINX_CONF.format(root=root, port=port, port_a=port_a, port_b=port_b))
            subprocess.run([NGINX, "-t", "-q", "-c", str(conf), "-p", str(root)], check=True)
            procs.append(
                subprocess.Popen(
                    [NGINX, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
                    stderr=open(root / "nginx-stderr.log", "wb"),  # noqa: SIM115
                )
            )
            for p in (port_a, port_b, port):
                wait_http(f"http://127.0.0.1:{p}/healthz")
            print(f"nginx {base} -> replicas 127.0.0.1:{port_a}, 127.0.0.1:{port_b}; {url}")

            asyncio.run(staff_browser(base))
            health, wall, states = asyncio.run(http_crowd(base, tokens[0], args.phones))
            stored_http = count(inst, occ_ids[0])
            crowd = asyncio.run(browser_crowd(f"{base}/checkin?t={tokens[1]}", args.browsers))
            b_states = crowd.states
            stored_browser = count(inst, occ_ids[1])
            inst.close()
            time.sleep(0.5)  # let nginx flush its access log
            log = parse_log(root / "nginx-access.log")

            posts = collections.Counter(up for req, up, _ in log if req.startswith("POST /checkin"))
            stream = [(up, route) for req, up, route in log if "/_stcore/stream" in req]
            pages = {route for _, route in stream}
            pinned = all(len({up for req, up, r in log if r == route}) == 1 for route in pages)
            print(f"\nHTTP crowd: {args.phones} POSTs at once in {wall:.2f} s "
                  f"({args.phones / wall:.0f}/s; {health:.2f} s for as many GET /healthz); "
                  f"answers ok {states.count('ok')}, stored {stored_http}")  # fmt: skip
            print(f"browser crowd: {args.browsers} Chromium phones opened and filled in the "
                  f"form in {crowd.open_wall:.2f} s, then submitted at once in "
                  f"{crowd.submit_wall:.2f} s ({args.browsers / crowd.submit_wall:.1f}/s; "
                  f"whole way {args.browsers / crowd.wall:.1f}/s); "
                  f"answers ok {b_states.count('ok')}, "
                  f"stored {stored_browser}; states {sorted(set(b_states))}")  # fmt: skip
            print("POST /checkin per replica (nginx $upstream_addr):")
            for up, n in sorted(posts.items()):
                print(f"  {up}: {n}")
            print(f"staff browser: {len(stream)} websocket connection(s), routes {len(pages)}; "
                  f"every request of a route on one replica: {pinned}")  # fmt: skip
            lost = not (
                stored_http == states.count("ok") == args.phones
                and stored_browser == b_states.count("ok") == args.browsers
            )
            spread = len(posts) == 2
            ok = not lost and pinned and bool(stream) and spread
            print(f"\nnothing lost: {not lost}; spread over both replicas: {spread}; "
                  f"sticky: {pinned and bool(stream)} -> {'OK' if ok else 'FAILED'}")  # fmt: skip
            for proc in reversed(procs):
                stop(proc)
            procs.clear()
    finally:
        for proc in reversed(procs):
            stop(proc)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
