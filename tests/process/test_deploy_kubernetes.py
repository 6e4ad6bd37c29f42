"""What a user applies, checked offline: every Kubernetes manifest against the API's own
schemas (kubernetes-validate, strict, Kubernetes 1.33), the kustomize builds (kubectl, when
there is one), the configs inside them loaded by the programs' own loaders and in step with
the manifests around them, least privilege, the alert rules (promtool, with unit tests of
each alert) and the systemd units (systemd-analyze)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from announcer.config import AnnouncerConfig
from dataplane.config import DataplaneConfig
from lbroute.config import load_config, load_config_text
from rr.config import RrConfig
from tests.support.images import BFDD_CAPABILITIES

ROOT = Path(__file__).parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
BASE, SERVICE_VIPS = KUBE / "base", KUBE / "service-vips"
KUBERNETES_VERSION = "1.33.0"
PROMTOOL = Path("/opt/lbroute/promtool/usr/bin/promtool")
PROMETHEUS = ROOT / "deploy" / "prometheus"
SYSTEMD = ROOT / "deploy" / "systemd"


def kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def manifest_files() -> list[Path]:
    """Every file a kustomization lists as a resource (not another kustomization)."""
    out = []
    for directory in (BASE, SERVICE_VIPS):
        for entry in kustomization(directory)["resources"]:
            if (directory / entry).is_file():
                out.append(directory / entry)
    return out


def objects(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(KUBE)))
def test_every_manifest_validates_strictly(path: Path) -> None:
    for obj in objects(path):
        # raises on an unknown field (strict), a wrong type or a missing required one
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_strict_validation_refuses_a_misspelt_field() -> None:
    [deployment] = objects(BASE / "rr" / "deployment.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def build(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl on this machine: its kustomize builds the base (the files are checked above)")
    out = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    return found


@pytest.mark.parametrize("directory", [BASE, SERVICE_VIPS], ids=["base", "service-vips"])
def test_kustomize_builds_what_validates_with_the_config_files_as_they_are(directory: Path) -> None:
    built = build(directory)
    for obj in built:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] in ("lbroute", "web"), obj["metadata"]
    # one config, not two: the ConfigMaps hold the very files the loaders read below
    announcer_file = (
        directory / "announcer.yaml" if directory == SERVICE_VIPS else BASE / "lb" / "announcer.yaml"
    )
    announcer_map = one(built, "ConfigMap", "lbroute-announcer-")
    assert announcer_map["data"] == {"announcer.yaml": announcer_file.read_text()}
    assert one(built, "ConfigMap", "lbroute-rr-")["data"] == {
        "rr.yaml": (BASE / "rr" / "rr.yaml").read_text()
    }
    dataplane_map = one(built, "ConfigMap", "lbroute-dataplane-")
    assert dataplane_map["data"] == {"dataplane.yaml": (BASE / "lb" / "dataplane.yaml").read_text()}
    # the pods mount the generated (hash-named) ConfigMaps
    lb = one(built, "Deployment", "lbroute-lb")["spec"]["template"]["spec"]
    [config] = [v for v in lb["volumes"] if v["name"] == "config"]
    assert config["configMap"]["name"] == announcer_map["metadata"]["name"]
    [config] = [v for v in lb["volumes"] if v["name"] == "dataplane-config"]
    assert config["configMap"]["name"] == dataplane_map["metadata"]["name"]
    # the data plane reads EndpointSlices beside the Service (in the overlay Services too)
    role = one(built, "Role", "lbroute-lb")
    assert role["metadata"]["namespace"] == "web"
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == ({"endpointslices", "services"} if directory == SERVICE_VIPS else {"endpointslices"})


def test_the_configs_in_the_manifests_load_with_the_programs_own_loaders() -> None:
    rr = load_config(BASE / "rr" / "rr.yaml", RrConfig)
    assert rr.warnings() == []  # no guard rail off
    base = load_config(BASE / "lb" / "announcer.yaml", AnnouncerConfig)
    service_vips = load_config(SERVICE_VIPS / "announcer.yaml", AnnouncerConfig)
    assert base.exabgp is not None and service_vips.exabgp is not None
    # the overlay's announcer differs from the base's only in where the VIPs come from
    differs = {"services", "kubernetes"}
    assert base.model_dump(exclude=differs) == service_vips.model_dump(exclude=differs)
    assert [s.check for s in base.services] == [s.check for s in service_vips.services]
    assert service_vips.uses_kubernetes and not base.uses_kubernetes
    dataplane = load_config(BASE / "lb" / "dataplane.yaml", DataplaneConfig)
    assert dataplane.uses_kubernetes and dataplane.warnings() == []
    # every VIP the announcer announces is gated on the data plane that serves it
    served = {s.name: s for s in dataplane.services}
    for service in base.services:
        assert service.check.kind == "dataplane" and service.check.status_file == dataplane.status_file
        assert [f"{served[service.name].vip}/32"] == [str(v) for v in service.vips]


def _pod(path: Path) -> dict[str, Any]:
    [deployment] = objects(path)
    return dict(deployment["spec"]["template"])


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in pod["spec"]["containers"] if c["name"] == name]
    return dict(found)


def _mount(container: dict[str, Any], volume: str) -> str:
    [found] = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume]
    return str(found)


def test_the_configs_name_what_the_manifests_around_them_provide() -> None:
    rr = load_config(BASE / "rr" / "rr.yaml", RrConfig)
    announcer = load_config(BASE / "lb" / "announcer.yaml", AnnouncerConfig)
    assert announcer.exabgp is not None
    lb_pod, rr_pod = _pod(BASE / "lb" / "deployment.yaml"), _pod(BASE / "rr" / "deployment.yaml")
    speaker, manager = _container(lb_pod, "speaker"), _container(rr_pod, "lbroute-rr")
    # the speakers talk to the RR where it listens, with the key the RR expects
    [neighbor] = announcer.exabgp.neighbors
    assert [neighbor.address] == list(rr.listen_addresses) == [rr.router_id]
    [group] = rr.speaker_groups
    assert neighbor.md5_password_file == f"{_mount(speaker, 'bgp-md5')}/lb"
    assert group.md5_password_file == f"{_mount(manager, 'bgp-md5')}/lb"
    assert all(n.md5_password_file == f"{_mount(manager, 'bgp-md5')}/router" for n in rr.neighbors)
    # the RR admits the LB pods: its selector is their label, in their namespace
    assert group.kubernetes is not None and group.kubernetes.namespace == "lbroute"
    key, _, value = group.kubernetes.label_selector.partition("=")
    assert lb_pod["metadata"]["labels"][key] == value
    # the addresses and files the configs name, the pod spec gives
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in speaker["env"]}
    assert env[announcer.next_hop_env] == "status.hostIP" and env["NODE_IPS"] == "status.hostIPs"
    assert (
        env[announcer.exabgp.local_address_env] == env[str(announcer.metrics.address_env)] == "status.podIP"
    )
    assert {p["containerPort"] for p in speaker["ports"]} == {announcer.metrics.port}
    assert f"/etc/lbroute/{Path(_config_key(speaker)).name}" == "/etc/lbroute/announcer.yaml"
    assert _mount(manager, "gobgpd-socket") == str(Path(rr.gobgpd.removeprefix("unix://")).parent)
    assert (
        rr.metrics_address
        == f"{rr.router_id}:{_container(rr_pod, 'lbroute-rr')['ports'][0]['containerPort']}"
    )
    # both preStop hooks drain through the announcer's control socket, on the shared emptyDir
    for container in lb_pod["spec"]["containers"]:
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        assert command == ["lbroute-announcer", "drain", "--socket", announcer.control_socket]
        assert _mount(container, "lbroute-run") == str(Path(str(announcer.control_socket)).parent)
    # bfdd: the sidecar's image, its config rendered from the same ConfigMap's announcer.yaml
    # (the speaker's file, from the pod's address), BFD to the RR both ways, the RR's timers
    bfdd = _container(lb_pod, "bfdd")
    assert bfdd["image"] == speaker["image"] and bfdd["command"] == ["/usr/local/bin/lbroute-bfdd"]
    assert _config_key(bfdd) == _config_key(speaker)
    assert _mount(bfdd, "config") == _mount(speaker, "config")
    assert [v["configMap"]["name"] for v in lb_pod["spec"]["volumes"] if v["name"] == "config"] == [
        "lbroute-announcer"
    ]
    bfdd_env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in bfdd["env"]}
    assert bfdd_env[announcer.exabgp.local_address_env] == "status.podIP"
    assert _mount(bfdd, "bfdd-run") == "/run/bfdd"
    assert announcer.exabgp.bfd is not None and group.bfd is not None and announcer.exabgp.bfd.multihop
    timers = ("transmit_interval_ms", "receive_interval_ms", "detect_multiplier", "multihop")
    assert [getattr(group.bfd, t) for t in timers] == [getattr(announcer.exabgp.bfd, t) for t in timers]
    # the data plane: its config where the container reads it, its status file on the shared
    # volume, its probe reading that file, its token, its Role beside the Service it reads
    dataplane = load_config(BASE / "lb" / "dataplane.yaml", DataplaneConfig)
    data_plane = _container(lb_pod, "data-plane")
    config_file = f"{_mount(data_plane, 'dataplane-config')}/dataplane.yaml"
    assert data_plane["command"] == ["lbroute-dataplane", "run", "--config", config_file]
    assert data_plane["readinessProbe"]["exec"]["command"] == [
        "lbroute-dataplane", "status", "--config", config_file
    ]  # fmt: skip
    assert Path(str(dataplane.status_file)).parent == Path(_mount(data_plane, "lbroute-run"))
    assert _mount(data_plane, "api-token") == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert [m["name"] for m in speaker["volumeMounts"] if m["name"] == "api-token"] == []
    [lb_binding] = [o for o in objects(BASE / "lb" / "rbac.yaml") if o["kind"] == "RoleBinding"]
    assert {s.kubernetes.namespace for s in dataplane.services if s.kubernetes} == {
        lb_binding["metadata"]["namespace"]
    }
    assert lb_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": lb_pod["spec"]["serviceAccountName"], "namespace": "lbroute"}
    ]
    # the grace period outlasts the drain
    assert (
        lb_pod["spec"]["terminationGracePeriodSeconds"] > announcer.drain_seconds + 2 * announcer.ack_timeout
    )
    # the NetworkPolicy lets BGP out to the RR and the metrics in
    [policy] = objects(BASE / "lb" / "networkpolicy.yaml")
    bgp = [r for r in policy["spec"]["egress"] if r.get("ports") == [{"protocol": "TCP", "port": 179}]]
    assert bgp and bgp[0]["to"] == [{"ipBlock": {"cidr": f"{neighbor.address}/32"}}]
    multihop_bfd = [{"protocol": "UDP", "port": 4784}]
    rr_block = [{"ipBlock": {"cidr": f"{neighbor.address}/32"}}]
    assert {"to": rr_block, "ports": multihop_bfd} in policy["spec"]["egress"]
    assert {"from": rr_block, "ports": multihop_bfd} in policy["spec"]["ingress"]
    assert any(
        r.get("ports") == [{"protocol": "TCP", "port": announcer.metrics.port}]
        for r in policy["spec"]["ingress"]
    )
    # and the data plane's traffic: the VIPs' ports in, its backends out at their port
    for service in dataplane.services:
        assert {"ports": [{"protocol": "TCP", "port": service.port}]} in policy["spec"]["ingress"]
        assert {
            "to": [{"ipBlock": {"cidr": str(net)}} for net in dataplane.pod_networks],
            "ports": [{"protocol": "TCP", "port": service.target_port}],
        } in policy["spec"]["egress"]


def _config_key(container: dict[str, Any]) -> str:
    [value] = [e["value"] for e in container["env"] if e["name"] == "LBROUTE_ANNOUNCER_CONFIG"]
    return str(value)


def test_least_privilege() -> None:
    for path in (BASE / "lb" / "deployment.yaml", BASE / "rr" / "deployment.yaml"):
        pod = _pod(path)["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["capabilities"]["drop"] == ["ALL"] and context["readOnlyRootFilesystem"], container
            added = context["capabilities"].get("add", [])
            # only gobgpd binds a port below 1024, only the data plane's nft changes the pod's
            # network; only they may take their file capability at exec
            # bfdd takes the three FRR's privs insist on (what tests/integration/test_images.py
            # starts it with, and shows it exits without any one of)
            wanted = {
                "gobgpd": ["NET_BIND_SERVICE"],
                "data-plane": ["NET_ADMIN"],
                "bfdd": list(BFDD_CAPABILITIES),
            }
            assert added == wanted.get(container["name"], []), container
            assert context["allowPrivilegeEscalation"] == (container["name"] in wanted), container
    verbs = set()
    for path in (BASE / "rr" / "rbac.yaml", BASE / "lb" / "rbac.yaml"):
        for obj in objects(path):
            for rule in obj.get("rules", []):
                verbs |= set(rule["verbs"])
    assert verbs == {"list", "watch"}
    [rr_role] = [o for o in objects(BASE / "rr" / "rbac.yaml") if o["kind"] == "Role"]
    assert rr_role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}]
    [lb_role] = [o for o in objects(BASE / "lb" / "rbac.yaml") if o["kind"] == "Role"]
    assert lb_role["rules"] == [
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}
    ]
    # the token is the data plane's alone: the service account mounts none, the pod none
    [lb_account] = objects(BASE / "lb" / "serviceaccount.yaml")
    assert lb_account["automountServiceAccountToken"] is False
    assert _pod(BASE / "lb" / "deployment.yaml")["spec"]["automountServiceAccountToken"] is False


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing; `make images` installs it (setup/install-podman.sh)")
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_the_alert_rules_check_and_each_fires_as_its_unit_test_says() -> None:
    checked = promtool("check", "rules", "alerts.yaml")
    assert checked.returncode == 0 and "SUCCESS: 6 rules found" in checked.stdout, (
        checked.stdout + checked.stderr
    )
    tested = promtool("test", "rules", "alerts.test.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_alert_unit_tests_can_fail(tmp_path: Path) -> None:
    # an alert that fires a minute later than its test expects is caught
    (tmp_path / "alerts.yaml").write_text(
        (PROMETHEUS / "alerts.yaml").read_text().replace("for: 1m", "for: 2m", 1)
    )
    shutil.copy(PROMETHEUS / "alerts.test.yaml", tmp_path)
    tested = promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert tested.returncode == 1 and "LbrouteBgpSessionDown" in tested.stdout + tested.stderr


def test_the_scrape_config_checks(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery: the file is checked with each
    kubernetes_sd_configs replaced by a static target; the jobs, relabelling and rule file
    are checked as they are."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["127.0.0.1:9473"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS / "alerts.yaml", tmp_path)
    checked = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("host", ["router", "router-resilient"])
def test_the_systemd_units_verify(tmp_path: Path, host: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on this machine")
    units = tmp_path / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    # the targets and units they name (network-online.target ...): this machine's
    shutil.copytree("/usr/lib/systemd/system", tmp_path / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(SYSTEMD / host, units, dirs_exist_ok=True)
    for unit in [*SYSTEMD.glob("*.service"), *units.glob("*.service.d/*.conf")]:
        if unit.suffix == ".service":
            shutil.copy(unit, units)
        for line in unit.read_text().splitlines():
            # what the units run, where an installed host has it (docs/deploy.md)
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                program = tmp_path / line.split("=", 1)[1].lstrip("-+!@:").split()[0].lstrip("/")
                program.parent.mkdir(parents=True, exist_ok=True)
                program.write_text("#!/bin/sh\n")
                program.chmod(0o755)
    names = sorted(p.name for p in SYSTEMD.glob("*.service"))
    assert names == ["gobgpd.service", "lbroute-rr.service", "zebra.service"]
    result = subprocess.run(
        [analyze, "verify", "--man=no", f"--root={tmp_path}", *(str(units / n) for n in names)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )  # fmt: skip
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "Unknown" not in said and "ignoring" not in said, said


def test_resilient_mode_gets_from_its_drop_in_what_writing_the_fib_takes() -> None:
    """lbroute-rr's own unit may not touch the network (no capability, no netlink, no sysctl);
    the resilient router's drop-in gives it CAP_NET_ADMIN, netlink and the L4 hash of both
    families, which zebra.service sets in zebra mode."""

    def settings(path: Path) -> list[tuple[str, str]]:
        return [
            (key, value)
            for key, sep, value in (line.partition("=") for line in path.read_text().splitlines())
            if sep and not key.startswith("#")
        ]

    base = settings(SYSTEMD / "lbroute-rr.service")
    drop_in = settings(SYSTEMD / "router-resilient" / "lbroute-rr.service.d" / "resilient.conf")
    assert ("CapabilityBoundingSet", "") in base and not any(k == "AmbientCapabilities" for k, _ in base)
    assert not any("AF_NETLINK" in v or "sysctl" in v for _, v in base)
    assert ("AmbientCapabilities", "CAP_NET_ADMIN") in drop_in
    assert ("CapabilityBoundingSet", "CAP_NET_ADMIN") in drop_in
    assert ("RestrictAddressFamilies", "AF_NETLINK") in drop_in
    for family in ("ipv4", "ipv6"):
        assert (
            "ExecStartPre",
            f"+/usr/sbin/sysctl -q -w net.{family}.fib_multipath_hash_policy=1",
        ) in drop_in


def test_a_config_the_programs_refuse_would_fail_this_check() -> None:
    """The loaders are not lenient here: a misspelt key in the RR's file is refused."""
    from lbroute.config import ConfigError

    text = (BASE / "rr" / "rr.yaml").read_text().replace("resync_interval", "resync_intervall")
    with pytest.raises(ConfigError, match="resync_intervall"):
        load_config_text(text, RrConfig, source="rr.yaml")
