"""``mulu serve``: the API (and, with it, the web portal) on 127.0.0.1.

``--workers N`` runs N server processes on one port (uvicorn's supervisor; each builds the app
with ``mulu.web.app:app_from_env`` and finds what this command chose in the environment:
``MULU_HOME``, ``MULU_SERVE_THREADS``). They share nothing but the store, so any of them — or of
several machines behind one proxy — may answer any request. ``--threads`` bounds each worker's
pool for blocking work, and with it its store connections. ``--log-format json`` (or the
setting ``MULU_LOG_FORMAT``) writes app and access logs as one JSON object a line
(``mulu.logs``)."""

from __future__ import annotations

import ipaddress
import os

import typer

from catalog.policies import LOCAL
from mulu.cli.context import options
from mulu.cli.output import console
from mulu.cli.policy import acting, requires
from mulu.logs import check_format, log_config
from warehouse.settings import Settings

DEFAULT_THREADS = 16  # as mulu.web.app.DEFAULT_THREADS (the CLI does not import the web app)
WORKER_HEALTHCHECK_SECONDS = 60


@requires(LOCAL)  # the server authenticates each request itself (mulu.web.auth)
def serve(
    ctx: typer.Context,
    port: int = typer.Option(8000, help="Port on 127.0.0.1."),
    host: str = typer.Option(
        "127.0.0.1", help="Interface; keep 127.0.0.1 unless a proxy in front of it controls access."
    ),
    proxy_headers: bool = typer.Option(
        False,
        "--proxy-headers",
        help="Behind a reverse proxy on 127.0.0.1: take the client's address and scheme from "
        "its X-Forwarded-For / X-Forwarded-Proto (off by default: anyone could send them).",
    ),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        metavar="IPS",
        help="Trust X-Forwarded-* from these proxy addresses (comma-separated; implies "
        "--proxy-headers).",
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="Server processes on this port; they share nothing but the store (sessions, "
        "logins, keys), so any may answer any request.",
    ),
    threads: int = typer.Option(
        DEFAULT_THREADS,
        "--threads",
        min=1,
        help="Threads per worker for blocking work; each holds one store connection, so on "
        "PostgreSQL keep workers × (threads + 4) below its max_connections (default 100).",
    ),
    log_format: str | None = typer.Option(
        None,
        "--log-format",
        metavar="text|json",
        help="json: app and access logs as one JSON object a line (time, level, logger, "
        "message, request_id, method, path, status, duration_ms, user) on stderr; default: "
        "the setting MULU_LOG_FORMAT, else text (warnings and errors only).",
    ),
) -> None:
    """Serve the REST API, the CKAN Action API subset, DCAT and the web portal.

    The client's address (login rate limits, the audit log) is the connection's own unless
    ``--proxy-headers`` or ``--forwarded-allow-ips`` names a proxy to trust."""
    import uvicorn

    acting(ctx)
    workspace = options(ctx).workspace().ensure()
    try:
        chosen_format = check_format(log_format or Settings.load(workspace).log_format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-format") from None
    banner = (
        f"Mulu on http://{host}:{port}/ (API docs: /api/docs; workspace {workspace.root}; "
        f"{workers} worker{'s' if workers > 1 else ''} × {threads} threads)"
    )
    if chosen_format == "json":  # every line a log collector reads is JSON, these two too
        import logging
        import logging.config

        logging.config.dictConfig(log_config(chosen_format))
        said = logging.getLogger("mulu.serve")
        if not is_loopback(host):
            said.warning(
                "--host %s makes Mulu reachable on every interface this machine has; put a "
                "reverse proxy with TLS (https) in front of it",
                host,
            )
        said.info("%s", banner)
    else:
        if not is_loopback(host):
            console.print(
                f"[bold yellow]警告：--host {host} 使本机所有可达的网络接口都能访问 Mulu（登录、"
                "令牌、数据）。请只在受控网络中这样做，并在前面放置提供 TLS（https）的反向代理，"
                "否则密码和会话 Cookie 以明文传输。[/bold yellow]\n"
                f"[yellow]Warning: --host {host} makes Mulu reachable on every interface this "
                "machine has (sign-in, tokens, data). Do this only on a controlled network and "
                "put a reverse proxy with TLS (https) in front of it; otherwise passwords and "
                "session cookies travel in clear text.[/yellow]",
                highlight=False,
            )
        console.print(banner, highlight=False)
    # The web layer is named, not imported: each worker reads the workspace from MULU_HOME and
    # its thread pool from MULU_SERVE_THREADS when it starts, so the CLI and the web app stay
    # independent of each other (and spawned worker processes inherit both).
    os.environ["MULU_HOME"] = str(workspace.root)
    os.environ["MULU_SERVE_THREADS"] = str(threads)
    trusted = forwarded_headers(proxy_headers, forwarded_allow_ips)
    uvicorn.run(
        "mulu.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn's supervisor kills a worker that does not answer its ping within this many
        # seconds (default 5): one warming its search index on a busy machine is slow, not hung.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        log_config=log_config(chosen_format),
        log_level="info" if chosen_format == "json" else "warning",
        access_log=False,  # mulu.logs.RequestLog writes the access lines (with request ids)
        proxy_headers=trusted is not None,
        forwarded_allow_ips=trusted,
    )


def forwarded_headers(proxy_headers: bool, allow_ips: str | None) -> str | None:
    """The proxy addresses whose X-Forwarded-* headers are trusted; None: trust none (the
    default: a client could otherwise name any address and escape the per-address login limit,
    or put a made-up address in the audit log)."""
    if allow_ips is not None and allow_ips.strip():
        return allow_ips.strip()
    return "127.0.0.1,::1" if proxy_headers else None


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost`` reach this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False
