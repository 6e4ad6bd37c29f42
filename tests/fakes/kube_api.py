"""An HTTP-level fake Kubernetes API server for tests, driven through the real ``kubernetes`` client.

There is no kube-apiserver binary on these machines. This server speaks the same HTTP as
the real one for the resources lbroute reads — list and watch with resourceVersions —
so the real client library, its deserialisation and its watch handling all run:

* ``GET /api/v1[/namespaces/NS]/{services,pods,secrets,endpoints}`` and
  ``GET /apis/discovery.k8s.io/v1[/namespaces/NS]/endpointslices``: a list whose
  ``metadata.resourceVersion`` is the store's current version; ``labelSelector``
  (equality terms) and ``fieldSelector=metadata.name=X`` are honoured.
* the same with ``watch=true&resourceVersion=N``: every change after N as chunked JSON
  lines (ADDED/MODIFIED/DELETED), then new ones as they happen, until ``timeoutSeconds``.
  A version older than the compacted history gets the real server's answer: an ERROR
  event carrying a 410 Gone Status. Bookmarks are sent when asked for.
* ``GET .../NAME`` for a single object; 404 Status when missing.

Tests change the world with ``put``/``delete``, make old versions expire with ``compact``, and
simulate an outage with ``go_down``/``come_back`` (the port refuses connections meanwhile).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

KINDS = {
    # plural -> (api prefix, kind, list kind)
    "services": ("/api/v1", "Service", "ServiceList"),
    "pods": ("/api/v1", "Pod", "PodList"),
    "secrets": ("/api/v1", "Secret", "SecretList"),
    "endpointslices": ("/apis/discovery.k8s.io/v1", "EndpointSlice", "EndpointSliceList"),
}
API_VERSION = {"/api/v1": "v1", "/apis/discovery.k8s.io/v1": "discovery.k8s.io/v1"}


@dataclass
class Event:
    version: int
    plural: str
    type: str
    obj: dict[str, Any]


def _matches_labels(obj: dict[str, Any], selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.strip() not in labels:
            return False
    return True


def _matches_fields(obj: dict[str, Any], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and obj["metadata"]["name"] != value:
            return False
        if key == "metadata.namespace" and obj["metadata"].get("namespace") != value:
            return False
    return True


class FakeKubeApi:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._events: list[Event] = []
        self._version = 100
        self._compacted_below = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.requests: list[str] = []

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeKubeApi:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def go_down(self) -> None:
        """Stop answering: the port refuses connections and open watches end."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            self._lock.notify_all()

    def come_back(self) -> None:
        self.start()

    def stop(self) -> None:
        self.go_down()

    @property
    def up(self) -> bool:
        return self._server is not None

    # --- the world --------------------------------------------------------------------------

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object; returns the stored copy with its resourceVersion."""
        if plural not in KINDS:
            raise ValueError(f"unknown resource {plural}")
        prefix, kind, _ = KINDS[plural]
        stored = copy.deepcopy(obj)
        stored.setdefault("apiVersion", API_VERSION[prefix])
        stored.setdefault("kind", kind)
        meta = stored.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        with self._lock:
            self._version += 1
            meta["resourceVersion"] = str(self._version)
            key = (plural, meta["namespace"], meta["name"])
            kind_of_change = "MODIFIED" if key in self._objects else "ADDED"
            if kind_of_change == "ADDED":
                meta.setdefault("uid", f"uid-{self._version}")
                meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
            self._objects[key] = stored
            self._events.append(Event(self._version, plural, kind_of_change, copy.deepcopy(stored)))
            self._lock.notify_all()
        return copy.deepcopy(stored)

    def delete(self, plural: str, name: str, namespace: str = "default") -> None:
        with self._lock:
            obj = self._objects.pop((plural, namespace, name))
            self._version += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._version)
            self._events.append(Event(self._version, plural, "DELETED", obj))
            self._lock.notify_all()

    def compact(self) -> None:
        """Forget history: a *new* watch from an older version gets 410 Gone and must relist.

        As on the real server, watches already open keep receiving events.
        """
        with self._lock:
            self._compacted_below = self._version + 1

    def get(self, plural: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects.get((plural, namespace, name))
            return copy.deepcopy(obj) if obj else None

    # --- serving ----------------------------------------------------------------------------

    def list(self, plural: str, namespace: str | None, labels: str, fields: str) -> dict[str, Any]:
        prefix, _, list_kind = KINDS[plural]
        with self._lock:
            items = [
                copy.deepcopy(o)
                for (p, ns, _), o in sorted(self._objects.items())
                if p == plural
                and (namespace is None or ns == namespace)
                and _matches_labels(o, labels)
                and _matches_fields(o, fields)
            ]
            version = self._version
        return {
            "apiVersion": API_VERSION[prefix],
            "kind": list_kind,
            "metadata": {"resourceVersion": str(version)},
            "items": items,
        }

    def watch(
        self, plural: str, namespace: str | None, labels: str, fields: str, since: int, timeout: float,
        bookmarks: bool,
    ) -> Iterator[dict[str, Any]]:  # fmt: skip
        deadline = time.monotonic() + timeout
        cursor = since
        with self._lock:
            if since < self._compacted_below - 1:
                yield _gone(since)
                return
        while True:
            with self._lock:
                if not self.up:
                    return
                fresh = [e for e in self._events if e.version > cursor]
                if not fresh:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        if bookmarks:
                            yield _bookmark(plural, self._version)
                        return
                    self._lock.wait(min(remaining, 0.5))
                    continue
            for e in fresh:
                cursor = e.version
                if (
                    e.plural == plural
                    and (namespace is None or e.obj["metadata"].get("namespace") == namespace)
                    and _matches_labels(e.obj, labels)
                    and _matches_fields(e.obj, fields)
                ):
                    yield {"type": e.type, "object": e.obj}


def _gone(since: int) -> dict[str, Any]:
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": f"too old resource version: {since}",
            "reason": "Expired",
            "code": 410,
        },
    }


def _bookmark(plural: str, version: int) -> dict[str, Any]:
    prefix, kind, _ = KINDS[plural]
    return {
        "type": "BOOKMARK",
        "object": {
            "kind": kind,
            "apiVersion": API_VERSION[prefix],
            "metadata": {"resourceVersion": str(version)},
        },
    }


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }


def _make_handler(api: FakeKubeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _send_json(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            api.requests.append(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            route = _route(url.path)
            if route is None:
                self._send_json(404, _status(404, "NotFound", f"no route {url.path}"))
                return
            plural, namespace, name = route
            if name is not None:
                obj = api.get(plural, name, namespace or "default")
                if obj is None:
                    self._send_json(404, _status(404, "NotFound", f'{plural} "{name}" not found'))
                else:
                    self._send_json(200, obj)
                return
            labels = query.get("labelSelector", "")
            fields = query.get("fieldSelector", "")
            if query.get("watch") in ("true", "1"):
                self._stream(
                    api.watch(
                        plural, namespace, labels, fields,
                        since=int(query.get("resourceVersion") or 0),
                        timeout=float(query.get("timeoutSeconds") or 30),
                        bookmarks=query.get("allowWatchBookmarks") in ("true", "1"),
                    )
                )  # fmt: skip
                return
            self._send_json(200, api.list(plural, namespace, labels, fields))

        def _stream(self, events: Iterator[dict[str, Any]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for event in events:
                    line = json.dumps(event).encode() + b"\n"
                    self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            self.close_connection = True

    return Handler


def _route(path: str) -> tuple[str, str | None, str | None] | None:
    """(plural, namespace or None, name or None) for a path this fake serves."""
    for plural, (prefix, _, _) in KINDS.items():
        if not path.startswith(prefix + "/"):
            continue
        parts = path[len(prefix) + 1 :].strip("/").split("/")
        if parts == [plural]:
            return plural, None, None
        if len(parts) in (3, 4) and parts[0] == "namespaces" and parts[2] == plural:
            return plural, parts[1], parts[3] if len(parts) == 4 else None
    return None
