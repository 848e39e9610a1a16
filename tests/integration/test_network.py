"""Issue 17: Docker's bridge networking, seen from inside the containers, from the host and
from a neighbour host (a network namespace on a veth): addresses, outbound NAT, published
ports in the kernel (the client's address kept, 127.0.0.1 never reachable from outside),
user networks with their DNS, isolation, and nothing left behind."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import HullCLI
from tests.netfixtures import FakeUpstream, Neighbour, foreign_ruleset, free_port, host_state

pytestmark = pytest.mark.root

HTTPD = ("mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\n"
         "echo\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && "
         "echo hello > /www/index.html && exec httpd -f -p 80 -h /www")


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    yield fake
    fake.close()


@pytest.fixture
def hull(tmp_path: Path, upstream: FakeUpstream) -> Iterator[HullCLI]:
    """The engine on its own root; the host's resolver replaced by a fake on 127.0.0.153;
    afterwards no container, link, address or table of hull's is left on the host."""
    before = host_state()
    ruleset = foreign_ruleset()
    parent = f"/hull-test/net-{os.getpid()}-{tmp_path.name}"
    h = HullCLI(tmp_path / "root", env={**os.environ, "HULL_CGROUP_PARENT": parent,
                                         "HULL_RESOLV_CONF": str(upstream.resolv_conf(tmp_path))})
    h("image", "bootstrap")
    yield h
    ids = h("ps", "-aq", check=False).stdout.split()
    if ids:
        h("rm", "-f", *ids, check=False)
    h.stop_service()
    assert host_state() == before
    assert foreign_ruleset() == ruleset
    for base in Path("/sys/fs/cgroup").iterdir():
        try:
            (base / parent.lstrip("/")).rmdir()
        except OSError:
            pass


@pytest.fixture
def neighbour() -> Iterator[Neighbour]:
    n = Neighbour(str(os.getpid() % 10000))
    yield n
    n.close()


def inspect(hull: HullCLI, name: str) -> dict[str, object]:
    out: dict[str, object] = json.loads(hull("inspect", name).stdout)[0]
    return out


def wait_http(url: str, tries: int = 50) -> str:
    import urllib.request
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_default_bridge_address_route_files_and_outbound_nat(hull: HullCLI,
                                                            neighbour: Neighbour) -> None:
    port = free_port()
    listener = neighbour.run("sh", "-c", f"timeout 20 busybox nc -l -p {port} -e "
                             "sh -c 'echo $NCAT_REMOTE_ADDR; env' >/dev/null 2>&1 & echo $!")
    assert listener.returncode == 0
    out = hull("run", "--rm", "--hostname", "box", "--add-host", "gw:host-gateway",
               "--add-host", "db.local:10.1.2.3", "busybox", "sh", "-c",
               "ip -o -4 addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf;"
               f" echo ping | timeout 5 nc {neighbour.ip} {port} && echo sent").stdout
    lines = out.splitlines()
    address = lines[0].split()[3]
    ip, prefix = address.split("/")
    gateway = next(line.split()[2] for line in lines if line.startswith("default via"))
    assert prefix == "16" and ip.rsplit(".", 1)[0] == gateway.rsplit(".", 1)[0]
    assert f"{ip}\tbox" in lines
    assert f"{gateway}\tgw" in lines and "10.1.2.3\tdb.local" in lines
    assert "nameserver 127.0.0.153" not in out   # a loopback resolver: served by hull
    assert f"nameserver {gateway}" in lines and "search example.test" in lines
    assert "sent" in lines   # outbound through NAT to the neighbour


def test_published_ports_keep_the_client_address_and_loopback_stays_local(
        hull: HullCLI, neighbour: Neighbour) -> None:
    anywhere, local = free_port(), free_port()
    hull("run", "-d", "--name", "web", "-p", f"{anywhere}:80", "-p",
         f"127.0.0.1:{local}:80", "busybox", "sh", "-c", HTTPD)
    assert wait_http(f"http://127.0.0.1:{anywhere}/") == "hello\n"   # host, loopback
    assert wait_http(f"http://127.0.0.1:{local}/") == "hello\n"
    host_ip = neighbour.host_ip
    assert wait_http(f"http://{host_ip}:{anywhere}/") == "hello\n"   # host, own address
    # from the neighbour: the container sees the neighbour's own address (no proxy)
    seen = neighbour.run("busybox", "wget", "-qO-", f"http://{host_ip}:{anywhere}/cgi-bin/ip",
                         timeout=20).stdout.strip()
    assert seen.removeprefix("[::ffff:").removesuffix("]") == neighbour.ip
    # the container's address itself is not reachable from the neighbour, even routed
    settings = inspect(hull, "web")["NetworkSettings"]
    assert isinstance(settings, dict)
    ip = settings["Networks"]["bridge"]["IPAddress"]
    subnet = ip.rsplit(".", 2)[0] + ".0.0/16"
    neighbour.run("ip", "route", "add", subnet, "via", host_ip)
    direct = neighbour.run("timeout", "3", "busybox", "wget", "-qO-", f"http://{ip}/",
                           check=False)
    assert direct.returncode != 0
    # 127.0.0.1-published: the neighbour, routing 127.0.0.1 to the host, gets nothing
    neighbour.run("sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1")
    neighbour.run("sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1")
    neighbour.run("ip", "route", "add", "127.0.0.1/32", "via", host_ip, "dev", "eth0",
                  "table", "100")
    neighbour.run("ip", "rule", "add", "to", "127.0.0.1", "lookup", "100", "pref", "10")
    neighbour.run("ip", "rule", "del", "pref", "0", "lookup", "local", check=False)
    neighbour.run("ip", "rule", "add", "pref", "20", "lookup", "local")
    leak = neighbour.run("timeout", "3", "busybox", "wget", "-qO-",
                         f"http://127.0.0.1:{local}/", check=False)
    assert leak.returncode != 0 and "hello" not in leak.stdout
    # hairpin: another container through the host's published port
    hairpin = hull("run", "--rm", "busybox", "timeout", "5", "wget", "-qO-",
                   f"http://{settings['Networks']['bridge']['Gateway']}:{anywhere}/").stdout
    assert hairpin == "hello\n"
    ports = hull("port", "web").stdout.splitlines()
    assert sorted(ports) == sorted([f"80/tcp -> 0.0.0.0:{anywhere}",
                                    f"80/tcp -> 127.0.0.1:{local}"])
    assert f"0.0.0.0:{anywhere}->80/tcp" in hull("ps").stdout


def test_host_port_conflicts_and_bad_input_leave_nothing(hull: HullCLI) -> None:
    port = free_port()
    hull("run", "-d", "--name", "one", "-p", f"{port}:80", "busybox", "sleep", "60")
    clash = hull("run", "-d", "--name", "two", "-p", f"{port}:80", "busybox", "sleep", "60",
                 check=False)
    assert clash.returncode == 125
    assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in clash.stderr
    assert len(clash.stderr.strip().splitlines()) <= 3 and "Traceback" not in clash.stderr
    assert hull.state("two")["Status"] == "created"   # as Docker leaves it
    two = inspect(hull, "two")["NetworkSettings"]
    assert isinstance(two, dict) and two["Networks"]["bridge"]["IPAddress"] == ""
    for flags, message in ((["-p", "99999:80"], "invalid hostPort: 99999"),
                           (["-p", "abc"], "invalid containerPort: abc"),
                           (["-p", "80/xyz"], "invalid proto: xyz"),
                           (["--network", "nope"], "network nope not found"),
                           (["--ip", "10.0.0.5"], "user specified IP address is supported on "
                                                  "user defined networks only")):
        bad = hull("run", "--rm", *flags, "busybox", "true", check=False)
        assert bad.returncode == 125, (flags, bad.stderr)
        assert message in bad.stderr, (flags, bad.stderr)
    assert sorted(hull("ps", "-a", "--format", "{{.Names}}").stdout.split()) == ["one", "two"]


def test_user_networks_resolve_names_isolate_and_forward(hull: HullCLI,
                                                         upstream: FakeUpstream) -> None:
    hull("network", "create", "--subnet", "10.201.0.0/24", "front")
    hull("network", "create", "back")
    hull("run", "-d", "--name", "api", "--network", "front", "--network-alias", "svc",
         "--ip", "10.201.0.50", "busybox", "sleep", "300")
    hull("run", "-d", "--name", "other", "--network", "back", "busybox", "sleep", "300")
    script = ("nslookup api; nslookup svc; nslookup other; nslookup x.upstream.test; "
              "ping -c1 -W1 api >/dev/null && echo reach-api; "
              "ping -c1 -W1 $OTHER >/dev/null && echo reach-other; true")
    other_ip = inspect(hull, "other")["NetworkSettings"]["Networks"]["back"]["IPAddress"]  # type: ignore[index]
    out = hull("run", "--rm", "--network", "front", "-e", f"OTHER={other_ip}", "busybox",
               "sh", "-c", script).stdout
    assert out.count("Address: 10.201.0.50") == 2   # name and alias
    assert "can't find other" in out                 # another network's name
    assert f"Address: {FakeUpstream.ADDRESS}" in out  # forwarded to the host's resolver
    assert "x.upstream.test" in upstream.seen
    assert "reach-api" in out and "reach-other" not in out   # networks are isolated
    gateway = inspect(hull, "api")["NetworkSettings"]["Networks"]["front"]["Gateway"]  # type: ignore[index]
    assert _tcp_lookup(gateway, "svc") == ["10.201.0.50"]   # DNS over TCP as well
    start = time.monotonic()
    miss = hull("exec", "api", "nslookup", "nosuchname", check=False)
    assert "NXDOMAIN" in miss.stdout + miss.stderr and time.monotonic() - start < 3
    assert "nosuchname" not in upstream.seen          # never forwarded
    doc = json.loads(hull("network", "inspect", "front").stdout)[0]
    assert doc["IPAM"]["Config"][0]["Subnet"] == "10.201.0.0/24"
    assert [c["Name"] for c in doc["Containers"].values()] == ["api"]
    busy = hull("network", "rm", "front", check=False)
    assert busy.returncode == 1 and "has active endpoints" in busy.stderr


def test_a_name_resolves_the_moment_run_returns(hull: HullCLI) -> None:
    """The race of podman#13983, 100 times: `run -d` returned, so the name resolves."""
    hull("network", "create", "race")
    hull("run", "-d", "--name", "asker", "--network", "race", "busybox", "sleep", "600")
    failures = []
    for i in range(100):
        hull("run", "-d", "--name", f"c{i}", "--network", "race", "busybox", "sleep", "600")
        asked = hull("exec", "asker", "nslookup", f"c{i}", check=False)
        if asked.returncode != 0 or "Address: " not in asked.stdout.split("Name:")[-1]:
            failures.append(i)
        if i >= 4:
            hull("rm", "-f", f"c{i - 4}")
    assert failures == []


def test_connect_disconnect_running_container(hull: HullCLI) -> None:
    hull("network", "create", "extra")
    hull("run", "-d", "--name", "c", "busybox", "sleep", "300")
    hull("run", "-d", "--name", "peer", "--network", "extra", "busybox", "sleep", "300")
    hull("network", "connect", "--alias", "cee", "extra", "c")
    again = hull("network", "connect", "extra", "c", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    links = hull("exec", "c", "ip", "-o", "-4", "addr").stdout
    assert "eth1" in links
    assert "Address:" in hull("exec", "peer", "nslookup", "cee").stdout
    hull("network", "disconnect", "extra", "c")
    assert "eth1" not in hull("exec", "c", "ip", "-o", "-4", "addr").stdout
    gone = hull("exec", "peer", "nslookup", "cee", check=False)
    assert "can't find" in gone.stdout + gone.stderr


def test_network_bad_input(hull: HullCLI) -> None:
    hull("network", "create", "--subnet", "10.202.0.0/24", "n1")
    for args, message in ((["--subnet", "10.202.0.0/25", "n2"], "overlaps"),
                          (["--subnet", "10.203.0.0/24", "--gateway", "10.9.9.1", "n3"],
                           "no matching subnet for gateway"),
                          (["--subnet", "bogus", "n4"], "invalid"),
                          (["n1"], "already exists")):
        bad = hull("network", "create", *args, check=False)
        assert bad.returncode != 0 and message in bad.stderr, (args, bad.stderr)
    assert sorted(hull("network", "ls", "--format", "{{.Name}}").stdout.split()) == \
        ["bridge", "host", "n1", "none"]
    assert hull("network", "rm", "bridge", check=False).returncode == 1
    assert hull("network", "rm", "n1").stdout == "n1\n"
    hull("network", "create", "--label", "keep=1", "kept")
    hull("network", "create", "dropme")
    pruned = hull("network", "prune", "-f", "--filter", "label!=keep").stdout
    assert pruned.split() == ["Deleted", "Networks:", "dropme"]
    assert "kept" in hull("network", "ls", "--format", "{{.Name}}").stdout.split()
    bad = hull("network", "prune", "-f", "--filter", "color=red", check=False)
    assert bad.returncode != 0 and "invalid filter 'color'" in bad.stderr


def test_a_flushed_table_comes_back_and_a_killed_engine_keeps_ports(hull: HullCLI) -> None:
    port = free_port()
    hull("run", "-d", "--name", "web", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD)
    assert wait_http(f"http://127.0.0.1:{port}/") == "hello\n"
    from hull.engine.networking import naming
    table, _ = naming(str(hull.root))
    os.system(f"nft delete table inet {table}")
    hull("network", "reload")
    assert wait_http(f"http://127.0.0.1:{port}/") == "hello\n"
    os.system(f"nft delete table inet {table}")
    hull("run", "--rm", "busybox", "true")   # the next start notices and restores it all
    assert wait_http(f"http://127.0.0.1:{port}/") == "hello\n"
    hull.kill_service()
    os.system(f"nft delete table inet {table}")
    hull("ps")   # a new service restores the table as it starts
    assert wait_http(f"http://127.0.0.1:{port}/") == "hello\n"


def test_internal_network_and_a_host_forward_drop(hull: HullCLI, neighbour: Neighbour) -> None:
    """--internal: no way out. A host table whose forward hook drops by policy (as
    iptables' FORWARD DROP does) wins over hull's accept: hull says so, naming the rule."""
    import subprocess
    port = free_port()
    neighbour.run("sh", "-c", f"timeout 20 busybox nc -l -p {port} >/dev/null 2>&1 &")
    hull("network", "create", "--internal", "closed")
    out = hull("run", "--rm", "--network", "closed", "busybox", "sh", "-c",
               f"echo x | timeout 3 nc {neighbour.ip} {port} && echo reached || echo blocked")
    assert out.stdout.strip() == "blocked"
    table = f"hulltest_fwd_{os.getpid()}"
    subprocess.run(["nft", f"add table inet {table}; add chain inet {table} forwarding "
                    "{ type filter hook forward priority 0; policy drop; }"], check=True)
    try:
        made = hull("network", "create", "dropped")
        assert f"table inet {table}, chain forwarding, policy drop" in made.stderr
        assert "nft insert rule inet" in made.stderr
    finally:
        subprocess.run(["nft", f"delete table inet {table}"], check=True)


def test_every_address_forms_fixed_ip_across_restarts_and_port_53(hull: HullCLI) -> None:
    """-p 0.0.0.0:P:80 means every address (compose files write it); --ip and --mac-address
    hold across restarts; 53/udp can be published although the engine's DNS listens on
    the gateways."""
    port = free_port()
    hull("network", "create", "--subnet", "10.204.0.0/24", "fixed")
    hull("run", "-d", "--name", "web", "--network", "fixed", "--ip", "10.204.0.77",
         "--mac-address", "02:42:0a:cc:00:77", "-p", f"0.0.0.0:{port}:80", "-p",
         "5353:53/udp", "busybox", "sh", "-c", HTTPD)
    assert wait_http(f"http://127.0.0.1:{port}/") == "hello\n"
    assert f"0.0.0.0:{port}->80/tcp" in hull("ps").stdout
    for _ in range(2):
        hull("restart", "-t", "0", "web")
        net = inspect(hull, "web")["NetworkSettings"]["Networks"]["fixed"]  # type: ignore[index]
        assert (net["IPAddress"], net["MacAddress"]) == ("10.204.0.77", "02:42:0a:cc:00:77")
        assert net["IPAMConfig"] == {"IPv4Address": "10.204.0.77", "IPv6Address": ""}
    assert wait_http(f"http://127.0.0.1:{port}/") == "hello\n"
    udp = hull("run", "-d", "--name", "dns", "-p", "53:53/udp", "busybox", "sleep", "30",
               check=False)
    assert udp.returncode == 0, udp.stderr
    bad = hull("run", "--rm", "-p", "[::1]:8080:80", "busybox", "true", check=False)
    assert bad.returncode == 125 and "IPv4 host addresses only" in bad.stderr
    mac = hull("run", "--rm", "--mac-address", "zz:00", "busybox", "true", check=False)
    assert mac.returncode == 125 and "is not a valid mac address" in mac.stderr


@pytest.fixture
def ipv6_forwarding() -> Iterator[None]:
    """A dual-stack network turns the host's IPv6 forwarding on (as Docker does); the test
    puts back what the machine had, after the engine has gone (fixtures end in reverse)."""
    path = Path("/proc/sys/net/ipv6/conf/all/forwarding")
    before = path.read_text()
    yield
    path.write_text(before)


def test_dual_stack_network_addresses_names_and_ports(ipv6_forwarding: None,
                                                      hull: HullCLI) -> None:
    """--ipv6: a ULA /64 beside the IPv4 subnet, both addresses inside, AAAA records, and a
    port published on every address reachable over IPv6 as well (the host's fd00::2)."""
    host6 = next((line.split()[3].split("/")[0] for line in __import__("subprocess").run(
        ["ip", "-o", "-6", "addr", "show", "scope", "global"], capture_output=True,
        text=True).stdout.splitlines()), "")
    if not host6:
        pytest.skip("the host has no global IPv6 address to reach a published port on")
    port = free_port()
    hull("network", "create", "--ipv6", "dual")
    hull("run", "-d", "--name", "web6", "--network", "dual", "-p", f"{port}:80", "busybox",
         "sh", "-c", HTTPD)
    net = inspect(hull, "web6")["NetworkSettings"]["Networks"]["dual"]  # type: ignore[index]
    ip6 = net["GlobalIPv6Address"]
    assert ip6.startswith("fd") and net["GlobalIPv6PrefixLen"] == 64
    inside = hull("exec", "web6", "ip", "-o", "-6", "addr", "show", "eth0").stdout
    assert ip6 in inside
    aaaa = hull("run", "--rm", "--network", "dual", "busybox", "nslookup", "-type=aaaa",
                "web6").stdout
    assert ip6 in aaaa
    assert wait_http(f"http://[{host6}]:{port}/") == "hello\n"
    assert wait_http(f"http://127.0.0.1:{port}/") == "hello\n"
    assert sorted(hull("port", "web6").stdout.split("\n")[:2]) == \
        sorted([f"80/tcp -> 0.0.0.0:{port}", f"80/tcp -> [::]:{port}"])


def _tcp_lookup(server: str, name: str) -> list[str]:
    """An A query over TCP (two length bytes, then the message), from the host."""
    import socket

    from hull.network import dnswire
    query = dnswire.build_query(name, dnswire.TYPE_A, 4242)
    with socket.create_connection((server, 53), timeout=5) as s:
        s.sendall(len(query).to_bytes(2, "big") + query)
        size = int.from_bytes(s.recv(2), "big")
        data = b""
        while len(data) < size:
            data += s.recv(size - len(data))
    reply = dnswire.parse(data)
    assert reply is not None and reply.id == 4242
    return [".".join(str(b) for b in a.rdata) for a in reply.answers]
