"""The lab's data-plane room without root: the configs it writes are ones the programs
accept, the scenario keeps its data-plane knobs, and the table it waits for is Maglev's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dataplane.config import DataplaneConfig, RealserverConfig
from lbroute.config import load_config_text
from lbroute.core import maglev
from lbroute.lab.dataplane import Backends, controller_config, realserver_config, service_name, web_ip
from lbroute.lab.scenario import Scenario, ScenarioError
from lbroute.lab.topology import Node, Service, Topology

TOPO = Topology("t1", 3, (Service("web", "10.1.1.1/32"), Service("api-2", "10.1.2.1/32")))


@pytest.mark.parametrize("driver", ["nft-nat", "nft-dsr"])
def test_the_lab_writes_configs_the_programs_accept(tmp_path: Path, driver: str) -> None:
    backends = Backends((1, 2, 3), draining=(4,))
    lb = load_config_text(
        yaml.safe_dump(controller_config(TOPO, Node(2), tmp_path, driver, backends)), DataplaneConfig
    )
    assert lb.driver == driver and lb.metrics.address == Node(2).pod_ip
    assert [s.name for s in lb.services] == ["web", "api_2"] and [s.dscp for s in lb.services] == [10, 11]
    assert lb.services[0].backends == tuple(web_ip(k) for k in (1, 2, 3)) and lb.services[0].draining == (
        web_ip(4),
    )
    rs = load_config_text(
        yaml.safe_dump(realserver_config(TOPO, 1, backends, second_chance=False)), RealserverConfig
    )
    assert rs.address == web_ip(1) and not rs.second_chance


def test_the_table_the_lab_waits_for_is_maglevs_over_the_ready_backends() -> None:
    assert Backends((2, 1), draining=(3,)).table() == maglev.table([web_ip(1), web_ip(2)], 4093, 0x5EED)
    assert Backends((), draining=(1,)).all == (1,)


def test_service_names_become_nft_identifiers() -> None:
    assert [service_name(n) for n in ("web", "api-2", "9lives")] == ["web", "api_2", "s9lives"]


def test_the_scenario_keeps_its_data_plane() -> None:
    s = Scenario(dataplane="nft-dsr", backends=5)
    assert Scenario.from_json(s.to_json()) == s
    assert Scenario.from_json({}).dataplane == ""
    with pytest.raises(ScenarioError, match="nft-nat or nft-dsr"):
        Scenario(dataplane="ipvs").for_topology(Topology("t1", 1))
    with pytest.raises(ScenarioError, match="backends 0"):
        Scenario(dataplane="nft-nat", backends=0).for_topology(Topology("t1", 1))
