"""The port map: root LB remapping, stability across runs, dedicated LBs, JSON round trip."""

import doctest
import json

import pytest

from edgewright.loadbalancer import portmap
from edgewright.loadbalancer.portmap import (
    AppPorts,
    PortMap,
    PortMapError,
    PortMapping,
    PortRange,
    Protocol,
    assign_dedicated,
    assign_root,
)

TCP, UDP = Protocol.TCP, Protocol.UDP


def apps(**specs: str) -> list[AppPorts]:
    return [AppPorts.parse(name, spec) for name, spec in specs.items()]


def test_module_docstring_examples_hold():
    assert doctest.testmod(portmap).failed == 0


def test_parse_reads_single_ports_ranges_and_protocols():
    app = AppPorts.parse("game", "tcp:80, UDP:5000-5010,tcp:443")
    assert app.ports == (
        PortRange(TCP, 80, 80),
        PortRange(UDP, 5000, 5010),
        PortRange(TCP, 443, 443),
    )
    assert AppPorts.parse("game", ["tcp:80", "udp:53"]).ports == (
        PortRange(TCP, 80, 80),
        PortRange(UDP, 53, 53),
    )


def test_free_ports_keep_public_equal_internal():
    port_map = assign_root(apps(web="tcp:80,tcp:443", dns="udp:53"))
    assert all(not m.remapped for m in port_map.mappings)
    assert port_map.public_port("web", "tcp", 443) == 443
    assert port_map.public_port("dns", UDP, 53) == 53


def test_taken_port_moves_to_first_free_from_remap_start():
    port_map = assign_root(apps(web="tcp:80", api="tcp:80", admin="tcp:80"), remap_start=20000)
    assert port_map.public_port("web", TCP, 80) == 80
    assert port_map.public_port("api", TCP, 80) == 20000
    assert port_map.public_port("admin", TCP, 80) == 20001


def test_protocols_are_separate_port_spaces():
    port_map = assign_root(apps(web="tcp:53", dns="udp:53"))
    assert port_map.public_port("web", TCP, 53) == 53
    assert port_map.public_port("dns", UDP, 53) == 53


def test_remap_skips_ports_taken_by_kept_internal_ports():
    # "late" asks for 10000 itself, so "api" (remapped) must not land on it.
    port_map = assign_root(apps(web="tcp:80", late="tcp:10000", api="tcp:80"), remap_start=10000)
    assert port_map.public_port("late", TCP, 10000) == 10000
    assert port_map.public_port("api", TCP, 80) == 10001


def test_range_moves_as_one_contiguous_block():
    port_map = assign_root(apps(a="udp:5000-5009", b="udp:5005-5006", c="udp:5000-5003"), remap_start=10000)
    assert port_map.public_port("a", UDP, 5009) == 5009
    (b,) = port_map.for_app("b")
    assert (b.public, b.count) == (10000, 2)
    (c,) = port_map.for_app("c")
    assert (c.public, c.count) == (10002, 4)
    assert list(c.pairs()) == [(10002, 5000), (10003, 5001), (10004, 5002), (10005, 5003)]


def test_block_skips_a_hole_too_small_for_it():
    port_map = assign_root(apps(x="tcp:10000", y="tcp:10003", z="tcp:10000-10003"), remap_start=10000)
    (z,) = port_map.for_app("z")
    assert z.public == 10004


def test_reserved_ports_are_never_given_to_apps():
    port_map = assign_root(apps(web="tcp:22"), reserved=[PortRange(TCP, 22, 22)], remap_start=30000)
    assert port_map.public_port("web", TCP, 22) == 30000


def test_previous_assignments_are_kept_even_when_the_internal_port_frees_up():
    first = assign_root(apps(web="tcp:80", api="tcp:80"))
    assert first.public_port("api", TCP, 80) == 10000
    # "web" is removed: port 80 is free again, but api's clients already use 10000.
    second = assign_root(apps(api="tcp:80"), previous=first)
    assert second.public_port("api", TCP, 80) == 10000
    assert second.apps == ("api",)


def test_new_app_listed_first_does_not_take_kept_ports():
    first = assign_root(apps(web="tcp:80", api="tcp:80"))
    second = assign_root(apps(newcomer="tcp:80,tcp:10000", web="tcp:80", api="tcp:80"), previous=first)
    assert second.public_port("web", TCP, 80) == 80
    assert second.public_port("api", TCP, 80) == 10000
    assert second.public_port("newcomer", TCP, 80) == 10001
    assert second.public_port("newcomer", TCP, 10000) == 10002


def test_removed_app_frees_its_ports_for_a_new_one():
    first = assign_root(apps(web="tcp:80", api="tcp:80", admin="tcp:80"))
    second = assign_root(apps(web="tcp:80", admin="tcp:80", billing="tcp:80"), previous=first)
    assert second.public_port("admin", TCP, 80) == 10001
    assert second.public_port("billing", TCP, 80) == 10000


def test_changed_range_is_assigned_afresh():
    first = assign_root(apps(web="tcp:80", api="tcp:80-81"))
    second = assign_root(apps(web="tcp:80", api="tcp:80-82"), previous=first)
    (api,) = second.for_app("api")
    assert (api.internal, api.count) == (80, 3)
    ranges = second.public_ranges()
    assert len(ranges) == len(set(ranges)) == 2


def test_same_input_gives_same_map_every_run():
    spec = apps(web="tcp:80,tcp:443", api="tcp:80,udp:53", dns="udp:53-54", game="tcp:443,udp:53")
    first = assign_root(spec)
    assert assign_root(spec) == first
    assert assign_root(spec, previous=first) == first


def test_dedicated_lb_keeps_every_port():
    port_map = assign_dedicated(AppPorts.parse("video", "tcp:443,udp:10000-10100"))
    assert all(not m.remapped for m in port_map.mappings)
    assert port_map.public_port("video", UDP, 10050) == 10050


@pytest.mark.parametrize(
    ("spec", "port"),
    [
        ("tcp:80,tcp:80", "tcp:80"),
        ("tcp:8000-8010,tcp:8005", "tcp:8005"),
        ("udp:1-100,udp:100-200", "udp:100-200"),
    ],
)
def test_colliding_ports_of_one_app_are_rejected(spec, port):
    with pytest.raises(PortMapError, match=r"app 'video'.*collide") as error:
        assign_dedicated(AppPorts.parse("video", spec))
    assert error.value.app == "video"
    assert error.value.port == port


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tcp:0", "outside 1-65535"),
        ("tcp:70000", "outside 1-65535"),
        ("udp:65535-65536", "outside 1-65535"),
        ("tcp:90-80", "starts after it ends"),
        ("sctp:80", "not one of tcp, udp"),
        ("80", "not of the form"),
        ("tcp:http", "not of the form"),
    ],
)
def test_invalid_ports_are_rejected_naming_app_and_port(spec, message):
    with pytest.raises(PortMapError, match=message) as error:
        AppPorts.parse("shop", spec)
    assert isinstance(error.value, ValueError)
    assert error.value.app == "shop"
    assert "shop" in str(error.value)


def test_duplicate_app_names_are_rejected():
    with pytest.raises(PortMapError, match="'web' is listed twice"):
        assign_root(apps(web="tcp:80") + apps(web="tcp:81"))


def test_running_out_of_ports_is_an_error():
    # Only 65500-65535 (36 ports) lie above remap_start, and "big" needs 100 of them.
    with pytest.raises(PortMapError, match=r"app 'big'.*no 100 free tcp port") as error:
        assign_root(apps(first="tcp:1-100", big="tcp:1-100"), remap_start=65500)
    assert error.value.port == "tcp:1-100"


def test_bad_remap_start_is_rejected():
    with pytest.raises(PortMapError, match="remap_start 0"):
        assign_root(apps(web="tcp:80"), remap_start=0)


def test_json_round_trip():
    port_map = assign_root(apps(web="tcp:80,udp:5000-5010", api="tcp:80"))
    document = json.loads(json.dumps(port_map.to_dict()))
    assert document["version"] == 1
    api = {"app": "api", "protocol": "tcp", "internal": 80, "public": 10000, "count": 1}
    assert api in document["mappings"]
    assert PortMap.from_dict(document) == port_map


def test_from_dict_of_nothing_is_the_empty_map():
    assert PortMap.from_dict(None) == PortMap() == PortMap.from_dict({})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2, "mappings": []}, "version 2"),
        ({"mappings": [{"app": "web", "protocol": "icmp", "internal": 1, "public": 1}]}, "malformed"),
        ({"mappings": [{"app": "web", "protocol": "tcp", "internal": 80}]}, "malformed"),
        (
            {
                "mappings": [
                    {"app": "web", "protocol": "tcp", "internal": 80, "public": 80},
                    {"app": "api", "protocol": "tcp", "internal": 81, "public": 80},
                ]
            },
            "collide",
        ),
    ],
)
def test_from_dict_rejects_bad_documents(document, message):
    with pytest.raises(PortMapError, match=message):
        PortMap.from_dict(document)


def test_map_is_sorted_by_protocol_and_public_port():
    port_map = PortMap(
        (
            PortMapping("b", UDP, 53, 53),
            PortMapping("a", TCP, 443, 443),
            PortMapping("c", TCP, 80, 80),
        )
    )
    assert [(m.protocol, m.public) for m in port_map.mappings] == [(TCP, 80), (TCP, 443), (UDP, 53)]


def test_unknown_port_lookup_is_a_key_error():
    with pytest.raises(KeyError, match="no tcp:81"):
        assign_root(apps(web="tcp:80")).public_port("web", TCP, 81)


def reference_assign(apps_: list[AppPorts], remap_start: int, reserved: list[PortRange]) -> dict:
    """The rules spelled out slowly: keep the port if free, else scan up from remap_start."""
    taken = list(reserved)
    result = {}
    for app in apps_:
        for wanted in app.ports:

            def free(public: int, wanted: PortRange = wanted) -> bool:
                block = PortRange(wanted.protocol, public, public + wanted.count - 1)
                return not any(block.overlaps(other) for other in taken)

            public = wanted.start
            if not free(public):
                public = remap_start
                while not free(public):
                    public += 1
            taken.append(PortRange(wanted.protocol, public, public + wanted.count - 1))
            result[(app.app, wanted)] = public
    return result


@pytest.mark.parametrize("seed", range(40))
def test_assignment_agrees_with_the_rules_spelled_out_slowly(seed):
    import random

    rng = random.Random(seed)
    apps_ = []
    for index in range(rng.randint(1, 40)):
        ports, used = [], []
        for _ in range(rng.randint(1, 3)):
            protocol = rng.choice([TCP, UDP])
            start = rng.choice([80, 443, 5000, 10000, 10001, 10003, rng.randint(9990, 10020)])
            candidate = PortRange(protocol, start, start + rng.choice([0, 0, 1, 3]))
            if not any(candidate.overlaps(other) for other in used):
                used.append(candidate)
                ports.append(candidate)
        apps_.append(AppPorts(f"app{index}", tuple(ports)))
    reserved = [PortRange(TCP, 22, 22), PortRange(TCP, 10002, 10002)]
    port_map = assign_root(apps_, remap_start=10000, reserved=reserved)
    expected = reference_assign(apps_, 10000, reserved)
    for (app, wanted), public in expected.items():
        assert port_map.public_port(app, wanted.protocol, wanted.start) == public, (app, wanted)
