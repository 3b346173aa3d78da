"""nginx in front of two portals, as docs/DEPLOYMENT.md section 5 sets it up (on plain HTTP,
its temporary paths and logs in a folder of the caller's): for tests/browser/test_two_servers.py
and bench/meeting_load.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browser.conftest import free_port, wait_healthy

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# The upstream and location of docs/DEPLOYMENT.md section 5, on plain HTTP; temp paths and
# logs in the test's folder. The access log names the server that answered each request.
NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$upstream_addr|$status|$request_uri';
    access_log {folder}/access.log upstream;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream nearmiss {{
        ip_hash;
        server 127.0.0.1:{first};
        server 127.0.0.1:{second};
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://nearmiss;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 86400;
        }}
    }}
}}
"""


@contextmanager
def nginx_in_front_of(first: str, second: str, folder: Path) -> Iterator[str]:
    """Run nginx (sticky by client address) in front of two portals; yields its base URL."""
    if not Path(NGINX).exists():
        raise FileNotFoundError(f"nginx is not installed at {NGINX} (`make chromium` installs it)")
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        user="user root;" if os.geteuid() == 0 else "", folder=folder, port=port,
        first=first.rsplit(":", 1)[1], second=second.rsplit(":", 1)[1]))
    process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, folder / "error.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
