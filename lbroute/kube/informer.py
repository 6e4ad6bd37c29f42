"""List-then-watch of one resource, delivered as whole snapshots; fail static on errors.

The consumer gets ``on_snapshot(objects)`` — every object currently known, keyed by
``namespace/name`` — after the first list and after every change. While the API server
is unreachable the last snapshot stands and ``synced`` turns False: a consumer decides
what to do about stale data; this adapter never invents an empty world.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

log = structlog.get_logger()

Objects = dict[str, dict[str, Any]]


class KubeConfigError(Exception):
    """No way to reach an API server: no URL, an unusable kubeconfig, not in a cluster."""


def api_client(server: str | None = None, kubeconfig: str | None = None) -> k8s.ApiClient:
    """An ApiClient for an explicit URL (tests, the fake API server), a kubeconfig, or in-cluster."""
    if server:
        configuration = k8s.Configuration()
        configuration.host = server
        configuration.retries = False
        return k8s.ApiClient(configuration)
    try:
        if kubeconfig:
            return k8s_config.new_client_from_config(config_file=kubeconfig)
        k8s_config.load_incluster_config()
    except (k8s_config.ConfigException, OSError) as err:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "in-cluster service account"
        raise KubeConfigError(f"cannot use the {where}: {err}") from None
    return k8s.ApiClient()


@dataclass(frozen=True)
class Resource:
    """Which list call to use: ``services``, ``pods``, ``endpointslices`` or ``secrets``."""

    plural: str
    namespace: str | None = None
    label_selector: str = ""
    field_selector: str = ""

    def list_function(self, api: k8s.ApiClient) -> Callable[..., Any]:
        core = k8s.CoreV1Api(api)
        discovery = k8s.DiscoveryV1Api(api)
        namespaced = {
            "services": core.list_namespaced_service,
            "pods": core.list_namespaced_pod,
            "secrets": core.list_namespaced_secret,
            "endpointslices": discovery.list_namespaced_endpoint_slice,
        }
        cluster = {
            "services": core.list_service_for_all_namespaces,
            "pods": core.list_pod_for_all_namespaces,
            "secrets": core.list_secret_for_all_namespaces,
            "endpointslices": discovery.list_endpoint_slice_for_all_namespaces,
        }
        namespace = self.namespace
        if namespace:
            fn = namespaced[self.plural]
            return lambda **kw: fn(namespace, **kw)
        return cluster[self.plural]


def key_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def malformed(obj: Any, *, named: bool = True) -> str | None:
    """Why ``obj`` cannot be an object of the API (no ``metadata.name`` to key it by, unless
    not ``named``: a bookmark), else None."""
    if not isinstance(obj, dict):
        return f"not an object ({type(obj).__name__})"
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "metadata is not an object"
    if named and (not isinstance(meta.get("name"), str) or not isinstance(meta.get("namespace", ""), str)):
        return "metadata.name or metadata.namespace is not a string"
    return None


def keyed(items: Any, resource: str) -> Objects:
    """A list's items by ``namespace/name``; a malformed one is logged and left out."""
    if not isinstance(items, list):
        raise ValueError(f"items is {type(items).__name__}, not a list")
    out = {}
    for obj in items:
        why = malformed(obj)
        if why is not None:
            log.warning("kube.object.malformed", resource=resource, error=why)
            continue
        out[key_of(obj)] = obj
    return out


class Informer:
    def __init__(
        self,
        api: k8s.ApiClient,
        resource: Resource,
        on_snapshot: Callable[[Objects], None],
        *,
        on_sync_change: Callable[[bool], None] | None = None,
        watch_timeout: int = 60,
        request_timeout: float = 10.0,
        max_backoff: float = 10.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.api = api
        self.resource = resource
        self.on_snapshot = on_snapshot
        self.on_sync_change = on_sync_change
        self.watch_timeout = watch_timeout
        self.request_timeout = request_timeout
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.objects: Objects = {}
        self.resource_version = ""
        self.synced = False
        self.relists = 0
        self._stop = threading.Event()
        self._watch: k8s_watch.Watch | None = None

    # --- control ----------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"informer-{self.resource.plural}", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if not self.resource_version:
                    self._list()
                self._watch_once()
                failures = 0
            except ApiException as err:
                if err.status == 410:
                    log.info(
                        "kube.watch.expired", resource=self.resource.plural, version=self.resource_version
                    )
                    self.resource_version = ""  # relist at once: nothing is wrong with the server
                    continue
                failures += 1
                self._failed(failures, f"HTTP {err.status} {err.reason}")
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as err:
                failures += 1
                self._failed(failures, f"{type(err).__name__}: {err}")
            except Exception as err:
                # a bug, not weather: say so loudly, but a dead watch thread would leave the
                # process serving stale data forever without anyone noticing
                log.exception("kube.watch.crashed", resource=self.resource.plural, error=repr(err))
                failures += 1
                self.resource_version = ""
                self._failed(failures, repr(err))

    # --- internals --------------------------------------------------------------------------

    def _selectors(self) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if self.resource.label_selector:
            kw["label_selector"] = self.resource.label_selector
        if self.resource.field_selector:
            kw["field_selector"] = self.resource.field_selector
        return kw

    def _list(self) -> None:
        fn = self.resource.list_function(self.api)
        response = fn(_preload_content=False, _request_timeout=self.request_timeout, **self._selectors())
        body = json.loads(response.data)
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise ValueError("the list is not an object with metadata")
        self.objects = keyed(body.get("items") or [], self.resource.plural)
        version = body.get("metadata", {}).get("resourceVersion", "")
        self.resource_version = version if isinstance(version, str) else ""
        self.relists += 1
        log.info(
            "kube.list.done",
            resource=self.resource.plural,
            count=len(self.objects),
            version=self.resource_version,
        )
        self._set_synced(True)
        self.on_snapshot(dict(self.objects))

    def _watch_once(self) -> None:
        fn = self.resource.list_function(self.api)
        self._watch = k8s_watch.Watch()
        stream = self._watch.stream(
            fn,
            resource_version=self.resource_version,
            timeout_seconds=self.watch_timeout,
            allow_watch_bookmarks=True,
            _request_timeout=(self.request_timeout, self.watch_timeout + self.request_timeout),
            **self._selectors(),
        )
        for event in stream:
            if self._stop.is_set():
                return
            kind = event.get("type")
            obj = event.get("raw_object") or {}
            if kind == "ERROR":
                code = obj.get("code", 500) if isinstance(obj, dict) else 500
                reason = obj.get("reason", "watch error") if isinstance(obj, dict) else "watch error"
                raise ApiException(status=code, reason=reason)
            why = malformed(obj, named=kind != "BOOKMARK")
            if why is not None:
                log.warning("kube.object.malformed", resource=self.resource.plural, kind=kind, error=why)
                continue
            version = obj["metadata"].get("resourceVersion")
            if version and isinstance(version, str):
                self.resource_version = version
            if kind == "BOOKMARK":
                continue
            if kind in ("ADDED", "MODIFIED"):
                self.objects[key_of(obj)] = obj
            elif kind == "DELETED":
                self.objects.pop(key_of(obj), None)
            else:
                log.warning("kube.watch.unknown_event", resource=self.resource.plural, kind=kind)
                continue
            self._set_synced(True)
            self.on_snapshot(dict(self.objects))

    def _failed(self, failures: int, error: str) -> None:
        self._set_synced(False)
        delay = min(self.max_backoff, 0.2 * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
        log.warning(
            "kube.watch.retry",
            resource=self.resource.plural,
            attempt=failures,
            seconds=round(delay, 3),
            error=error,
        )
        if self._sleep is not None:
            self._sleep(delay)
        else:
            self._stop.wait(delay)

    def _set_synced(self, synced: bool) -> None:
        if synced != self.synced:
            self.synced = synced
            if self.on_sync_change is not None:
                self.on_sync_change(synced)
            if not synced:
                log.warning("kube.stale", resource=self.resource.plural, count=len(self.objects))
