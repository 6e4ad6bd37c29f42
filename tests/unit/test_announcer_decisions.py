"""decide() and commands() with health, holds and a respawned announcer; the Kubernetes view."""

from __future__ import annotations

from announcer.config import ExabgpConfig
from announcer.exabgp_config import HEADER, render_exabgp_config
from announcer.health import HealthState, Phase
from announcer.kube_view import ready_endpoints, service_vips
from announcer.state import NextHops, Route, ServiceRoutes, ServiceView, commands, decide

NH = "10.0.0.11"
HOPS = NextHops(NH)
WEB = ServiceRoutes("web", ("10.1.1.1/32",))
API = ServiceRoutes("api", ("10.1.2.1/32",), communities=("65021:100",))


def view(routes: ServiceRoutes, phase: Phase, ready: int | None = None) -> ServiceView:
    return ServiceView(routes, HealthState(phase), ready)


def test_only_up_services_are_desired_and_init_is_on_hold() -> None:
    desired, hold = decide([view(WEB, Phase.UP), view(API, Phase.INIT)], HOPS)
    assert desired == {Route("10.1.1.1/32", NH)}
    assert hold == {"10.1.2.1/32"}
    desired, hold = decide([view(WEB, Phase.DOWN), view(API, Phase.DISABLED)], HOPS)
    assert desired == frozenset() and hold == frozenset()


def test_zero_ready_endpoints_withdraws_but_unknown_does_not() -> None:
    assert decide([view(WEB, Phase.UP, ready=0)], HOPS)[0] == frozenset()
    assert decide([view(WEB, Phase.UP, ready=None)], HOPS)[0] == {Route("10.1.1.1/32", NH)}
    assert decide([view(WEB, Phase.UP, ready=2)], HOPS)[0] == {Route("10.1.1.1/32", NH)}


def test_kubernetes_vips_and_never_listed_decides_nothing() -> None:
    listed = ServiceRoutes("web", ("10.1.9.9/32",))
    assert decide([view(listed, Phase.UP)], HOPS)[0] == {Route("10.1.9.9/32", NH)}
    never_listed = ServiceRoutes("web", None)
    assert decide([view(never_listed, Phase.UP)], HOPS) == (frozenset(), frozenset())
    assert decide([view(never_listed, Phase.INIT)], HOPS) == (frozenset(), frozenset())


def test_a_dual_stack_service_announces_each_vip_via_its_own_family() -> None:
    both = ServiceRoutes("web", ("10.1.1.1/32", "2001:db8::1/128"), med=5)
    desired, _ = decide([view(both, Phase.UP)], NextHops(NH, "fd00::11"))
    assert desired == {Route("10.1.1.1/32", NH, med=5), Route("2001:db8::1/128", "fd00::11", med=5)}
    hold = decide([view(both, Phase.INIT)], NextHops(NH))[1]
    assert hold == {"10.1.1.1/32", "2001:db8::1/128"}


def test_respawned_announcer_withdraws_what_a_predecessor_may_have_left_unless_held() -> None:
    left = frozenset({Route("10.1.1.1/32", NH), Route("10.1.2.1/32", NH)})
    plan = commands(frozenset(), frozenset(), maybe_announced=left, hold=frozenset({"10.1.2.1/32"}))
    assert [(v, r.prefix) for v, r in plan] == [("withdraw", "10.1.1.1/32")]
    # desired and maybe held: announce again (exabgp drops an identical repeat), never withdraw
    plan = commands(frozenset({Route("10.1.1.1/32", NH)}), frozenset(), maybe_announced=left)
    assert [(v, r.prefix) for v, r in plan] == [("withdraw", "10.1.2.1/32"), ("announce", "10.1.1.1/32")]


def svc(name: str, *ips: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "web"},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips] + [{"hostname": "lb.example"}]}},
    }


def test_service_vips_come_from_ingress_ips() -> None:
    objects = {"web/front": svc("front", "10.1.1.1", "2001:db8::5", "not-an-ip")}
    assert service_vips(objects, "web", "front") == ("10.1.1.1/32", "2001:db8::5/128")
    assert service_vips(objects, "web", "gone") == ()


def test_ready_endpoints_counts_ready_or_unspecified_of_this_service_only() -> None:
    def eps(name: str, service: str, *ready: bool | None) -> dict[str, object]:
        endpoints = [
            {"addresses": ["172.16.1.9"], "conditions": {} if r is None else {"ready": r}} for r in ready
        ]
        return {
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
            "endpoints": endpoints,
        }

    slices = {"web/a": eps("a", "front", True, False, None), "web/b": eps("b", "other", True)}
    assert ready_endpoints(slices, "front") == 2
    assert ready_endpoints({"web/a": eps("a", "front", False)}, "front") == 0


def test_rendered_exabgp_config_has_the_fast_timers_and_md5() -> None:
    cfg = ExabgpConfig.model_validate(
        {"neighbors": [{"address": "10.0.0.2"}, {"address": "10.0.0.3"}], "local_address": "172.16.1.2"}
    )
    command = "/opt/lbroute/venv/bin/lbroute-announcer run --config /etc/lbroute/announcer.yaml"
    text = render_exabgp_config(cfg, {"10.0.0.3": "s3cret"}, local_address="10.9.9.9", command=command)
    assert f"    run {command};" in text
    assert "10.9.9.9" not in text  # the file's local_address wins over the environment's
    assert text.count("hold-time 3;") == 2
    assert "neighbor 10.0.0.2 {" in text and "local-address 172.16.1.2;" in text
    assert text.count("md5-password") == 1 and 'md5-password "s3cret";' in text
    # exabgp's default would base64-decode a key of hex digits only
    assert text.count("md5-base64 false;") == 1
    assert "next-hop self" not in text
    assert text.splitlines()[0] == HEADER
