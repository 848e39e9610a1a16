"""The same command lines against hull and against a private dockerd, compared.

Each case below is a few lines of shell with `$D` for the command line (`hull --root R`
on one side, the docker client on a private dockerd on the other) and `$T` for the
side's own working directory; tests/clients/parity.py runs it on both sides at once and
compares the exit code, stdout after normalizing IDs and times (the list of regexes at
the top of parity.py), and stderr's first line where the case says `err=True` (otherwise
only whether stderr is empty). A difference is one failing case, named after the
invocation.

Both sides have the same images with the same IDs (hull's built-in busybox:latest loaded
into dockerd, dockerd's imported busybox:hull loaded into hull) and one long-running
container, `parity_shared`, for the cases that only read. The client is Docker 28's, the
daemon Debian's 20.10: where the two Dockers differ, the case follows current Docker and
says so. `HULL_PARITY_DUMP=FILE` writes every case's two normalized results there, one
JSON object per line; `HULL_PARITY_HULL=PATH` compares another hull build.

A case: `C(name, cmd, setup=..., cleanup=..., err=..., shape=...)` — names of containers,
volumes and tags unique to the case (`xx_1`), `setup` and `cleanup` as shell on the same
`$D`, and whatever the case creates removed by its `cleanup` (the harness reports
anything left behind as a difference, then removes it). Only where the outputs cannot be
equal (host PIDs, figures, the two programs' own names) does a `shape` reduce both
stdouts to what must be; where hull deliberately does better, `hull=` is its expected
stdout and `why=` says why.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.clients.conftest import Docker, _remove_cgroup_tree
from tests.clients.parity import Case, Runner, Side, compare, state, sweep
from tests.conftest import HULL, HullCLI

pytestmark = [pytest.mark.root, pytest.mark.clients]

# another hull to compare (a build elsewhere); by default the repository's
HULL_BIN = os.environ.get("HULL_PARITY_HULL", HULL)
SHARED = "parity_shared"
# the container the read-only cases look at: output on both streams, env, a label
SHARED_RUN = (f"run -d --name {SHARED} --network none -e FOO=bar -l k=v busybox "
              "sh -c 'echo out; echo err >&2; exec sleep 100000'")


# ---------------------------------------------------------------------------------------
# shapes: what a case compares when the whole output cannot be equal
# ---------------------------------------------------------------------------------------

def sorted_lines(s: str) -> str:
    return "\n".join(sorted(s.splitlines()))


def first_line(s: str) -> str:
    return s.splitlines()[0] if s.strip() else ""


def header(s: str) -> str:
    """A table's column titles (their text, not their padding)."""
    return " | ".join(re.split(r"\s{2,}", first_line(s).strip()))


def json_keys(s: str) -> str:
    """The keys of each JSON object (one per line, or a JSON array), sorted."""
    s = s.strip()
    if not s:
        return ""
    try:
        docs = json.loads(s) if s.startswith("[") else [json.loads(x) for x in s.splitlines()]
    except ValueError:
        return "not JSON: " + first_line(s)
    return "\n".join(" ".join(sorted(d)) if isinstance(d, dict) else type(d).__name__
                     for d in docs)


def json_items_sorted(s: str) -> str:
    """A JSON list whose order docker does not keep (Mounts: a Go map), items sorted; each
    item keeps its own text, key order included."""
    try:
        items = json.loads(s)
    except ValueError:
        return "not JSON: " + first_line(s)
    return "\n".join(sorted(json.dumps(i, separators=(",", ":")) for i in items or []))


def flag_help(s: str) -> str:
    """`--help`: a usage line, flags listed, and each flag line with a description."""
    usage = any(line.startswith("Usage:") for line in s.splitlines())
    flags = [line for line in s.splitlines() if re.match(r"\s+(-\w, )?--?[\w-]+", line)]
    bare = [line.strip() for line in flags if len(re.split(r"\s{2,}", line.strip())) < 2]
    return f"usage={usage} flags={bool(flags)} undescribed={bare}"


def versionish(s: str) -> str:
    """Versions and build commits are each program's own."""
    s = re.sub(r"\bbuild [0-9a-f]{7,}\b", "build <COMMIT>", s)
    return re.sub(r"\b\d+\.\d+(\.\d+)?([-+~][\w.+~-]*)?\b", "<V>",
                  re.sub(r"\b(docker|Docker|hull)\b", "<CLI>", s))


def version_shape(s: str) -> str:
    """`version`: its sections (Client:, Server:) and whether each names a Version and an
    OS/Arch — the values are the two programs' own."""
    sections: dict[str, set[str]] = {}
    current = ""
    for line in s.splitlines():
        if line and not line[0].isspace():
            current = line.split(":")[0]
            sections[current] = set()
        elif ":" in line and current:
            sections[current].add(line.split(":")[0].strip())
    return "\n".join(f"{k}: " + " ".join(sorted({"Version", "OS/Arch"} & v))
                     for k, v in sections.items())


def top_shape(s: str) -> str:
    """`top`: the column titles and each row's command (PIDs and times are the host's)."""
    lines = s.splitlines()
    if not lines:
        return ""
    titles = lines[0].split()
    return " ".join(titles) + "\n" + "\n".join(
        sorted(line.split(None, len(titles) - 1)[-1] for line in lines[1:]))


def stats_shape(s: str) -> str:
    """`stats --no-stream`: the titles and each row's ID and name (figures vary)."""
    lines = s.splitlines()
    return header(s) + "\n" + "\n".join(" ".join(line.split()[:2]) for line in lines[1:])


def no_numbers(s: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "N", s)


def tar_list(s: str) -> str:
    return "\n".join(sorted(x.removeprefix("./").rstrip("/") for x in s.splitlines()
                            if x not in ("./", ".")))


def has_manifest(s: str) -> str:
    names = {x.removeprefix("./") for x in s.split()}
    return f"manifest.json={'manifest.json' in names}"


def df_rows(s: str) -> str:
    """`system df`: the titles and the TYPE, TOTAL and ACTIVE of each row."""
    out = [header(s)]
    for line in s.splitlines()[1:]:
        cols = re.split(r"\s{2,}", line.strip())
        out.append(" | ".join(cols[:3]))
    return "\n".join(out)


C = Case

CASES: list[Case] = [
    # ----------------------------------------------------------------- run: everyday
    C("run_echo", "$D run --rm busybox echo hello world"),
    C("run_exit_code", "$D run --rm busybox sh -c 'exit 3'"),
    C("run_both_streams", "$D run --rm busybox sh -c 'echo out; echo err >&2'", err=True),
    C("run_d_prints_id", "$D run -d --name run_d busybox true; $D wait run_d",
      cleanup="$D rm -f run_d"),
    C("run_rm_leaves_nothing", "$D run --rm --name run_rm busybox true; "
      "$D ps -aq -f name=run_rm"),
    C("run_nosuchcmd_rc", "$D run --name run_nocmd busybox nosuchcmd",
      cleanup="$D rm -f run_nocmd"),
    C("run_nosuchcmd_ps_created", "$D ps -a -f name=run_nocmd2 --format '{{.Status}}'",
      setup="$D run --name run_nocmd2 busybox nosuchcmd", cleanup="$D rm -f run_nocmd2"),
    C("run_d_nosuchcmd", "$D run -d --name run_nocmd3 busybox nosuchcmd",
      cleanup="$D rm -f run_nocmd3"),
    C("run_not_executable", "$D run --rm busybox /etc/passwd"),
    C("run_missing_image_pull_never", "$D run --rm --pull never nosuch_image:1 true",
      err=True),
    C("run_missing_image_no_registry", "$D run --rm 127.0.0.1:1/nosuch:1 true", err=True),
    C("run_w_new_dir", "$D run --rm -w /new/dir busybox pwd"),
    C("run_w_default", "$D run --rm busybox pwd"),
    C("run_env", "$D run --rm busybox env | sort"),
    C("run_env_flags", "$D run --rm -e A=1 -e B -e C busybox env | sort",
      setup="export B=2"),
    C("run_env_file", "$D run --rm --env-file e.list busybox env | sort",
      setup="printf 'X=1\\n# comment\\nY=two words\\n' > e.list"),
    C("run_u_nobody_env", "$D run --rm -u nobody busybox env | sort"),
    C("run_u_1234_env", "$D run --rm -u 1234 busybox env | sort"),
    C("run_u_1234_id", "$D run --rm -u 1234 busybox id"),
    C("run_u_nobody_id", "$D run --rm -u nobody busybox id"),
    C("run_u_name_gid", "$D run --rm -u nobody:root busybox id"),
    C("run_u_unknown_name", "$D run --rm -u nosuchuser busybox id"),
    C("run_id_groups", "$D run --rm busybox id"),
    C("run_group_add", "$D run --rm --group-add 123 --group-add nogroup busybox id"),
    C("run_hostname_default", "$D run --rm busybox hostname"),
    C("run_hostname_flag", "$D run --rm -h myhost busybox sh -c 'hostname; cat /etc/hostname'"),
    C("run_etc_hosts", "$D run --rm --network none -h hh busybox cat /etc/hosts"),
    C("run_etc_mtab", "$D run --rm busybox readlink /etc/mtab"),
    C("run_dockerenv", "$D run --rm busybox ls -l /.dockerenv"),
    C("run_lo_up", "$D run --rm --network none busybox ip -o link show"),
    C("run_lo_ping", "$D run --rm --network none busybox sh -c "
      "'ping -c1 -W2 127.0.0.1 >/dev/null && echo reachable'"),
    C("run_default_network", "$D inspect -f '{{.HostConfig.NetworkMode}}' run_net",
      setup="$D create --name run_net busybox true", cleanup="$D rm -f run_net",
      hull="bridge\n", why="the reference dockerd runs with --bridge=none (a test must "
      "not change the host's iptables), which makes its default network mode none; hull's "
      "default is Docker's usual one, the bridge network"),
    C("run_v_relative", "$D run --rm -v ./rel:/x busybox sh -c 'echo hi > /x/f'; cat rel/f"),
    C("run_v_named", "$D run --rm -v runv_vol:/data busybox sh -c 'echo x > /data/f'; "
      "$D run --rm -v runv_vol:/data busybox cat /data/f",
      cleanup="$D volume rm runv_vol"),
    C("run_v_ro", "$D run --rm -v \"$T\":/h:ro busybox touch /h/x", err=True),
    C("run_tmpfs", "$D run --rm --tmpfs /t busybox sh -c 'grep \" /t \" /proc/mounts'"),
    C("run_a_stdout", "$D run --rm -a stdout busybox sh -c 'echo out; echo err >&2'"),
    C("run_a_stderr", "$D run --rm -a stderr busybox sh -c 'echo out; echo err >&2'",
      err=True),
    # a hang is a failure, not a stuck suite: 5 s, then the script is killed (rc 124)
    C("run_it_no_tty", "echo x | timeout -k 1 5 $D run -it --rm busybox cat", err=True),
    C("run_t_term", "script -qec \"$D run --rm -t busybox sh -c 'echo \\$TERM'\" /dev/null "
      "| tr -d '\\r'"),
    C("run_i_stdin", "echo hello | $D run -i --rm busybox cat"),
    C("run_no_i_no_stdin", "echo hello | $D run --rm busybox cat"),
    C("run_entrypoint", "$D run --rm --entrypoint echo busybox a b"),
    C("run_read_only", "$D run --rm --read-only busybox touch /x", err=True),
    C("run_name_conflict", "$D create --name run_dup busybox true",
      setup="$D create --name run_dup busybox true", cleanup="$D rm -f run_dup", err=True),
    C("run_bad_name", "$D create --name 'bad name' busybox true", err=True),
    C("run_label_inspect", "$D inspect -f '{{json .Config.Labels}}' run_lbl",
      setup="$D create --name run_lbl -l a=b -l c busybox true", cleanup="$D rm -f run_lbl"),
    C("run_cidfile", "$D run -d --cidfile cid --name run_cid busybox true >out; "
      "[ \"$(cat cid)\" = \"$(cat out)\" ] && echo same",
      cleanup="$D rm -f run_cid"),
    C("run_cidfile_exists", "touch cid; $D run --rm --cidfile cid busybox true", err=True),
    C("run_restart_with_rm", "$D run --rm --restart always busybox true", err=True),
    C("run_bad_flag", "$D run --bogus busybox true", err=True),
    C("run_no_image_arg", "$D run", err=True),
    C("run_memory", "$D run --rm -m 64m busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes"),
    C("run_memory_inspect", "$D inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}' "
      "run_mem", setup="$D create --name run_mem -m 64m busybox true",
      cleanup="$D rm -f run_mem"),
    C("run_bad_memory", "$D run --rm -m lots busybox true", err=True),
    C("run_init_pid1", "$D run --rm --init busybox cat /proc/1/cmdline | tr '\\0' ' '"),
    C("run_cap_drop_all", "$D run --rm --cap-drop all busybox grep Cap /proc/self/status"),
    C("run_caps_default", "$D run --rm busybox grep Cap /proc/self/status"),
    C("run_stop_signal_inspect", "$D inspect -f '{{.Config.StopSignal}}' run_ss",
      setup="$D create --name run_ss --stop-signal SIGUSR1 busybox true",
      cleanup="$D rm -f run_ss"),
    C("run_workdir_inspect", "$D inspect -f '{{.Config.WorkingDir}}' run_wd",
      setup="$D create --name run_wd -w /srv busybox true", cleanup="$D rm -f run_wd"),
    C("run_cmd_inspect", "$D inspect -f '{{json .Config.Cmd}} {{json .Config.Entrypoint}} "
      "{{.Path}} {{json .Args}}' run_ci",
      setup="$D create --name run_ci busybox echo a b", cleanup="$D rm -f run_ci"),

    # ------------------------------------------------------------ create / start
    C("create_prints_id", "$D create --name cr_id busybox true", cleanup="$D rm -f cr_id"),
    C("create_status", "$D ps -a -f name=cr_st --format '{{.Status}} {{.State}}'",
      setup="$D create --name cr_st busybox true", cleanup="$D rm -f cr_st"),
    C("start_a", "$D start -a cr_a", setup="$D create --name cr_a busybox echo hi",
      cleanup="$D rm -f cr_a"),
    C("start_prints_name", "$D start cr_n", setup="$D create --name cr_n busybox sleep 30",
      cleanup="$D rm -f cr_n"),
    C("start_running", "$D start cr_r", setup="$D run -d --name cr_r busybox sleep 30",
      cleanup="$D rm -f cr_r"),
    C("start_exited_again", "$D start -a cr_x",
      setup="$D run --name cr_x busybox echo again", cleanup="$D rm -f cr_x"),
    C("start_nosuch", "$D start nosuch_ctr", err=True),

    # ------------------------------------------------ stop / restart / kill / pause
    C("stop", "$D stop -t 1 st_1; $D ps -a -f name=st_1 --format '{{.Status}}'",
      setup="$D run -d --name st_1 busybox sleep 100", cleanup="$D rm -f st_1"),
    C("stop_exit_code", "$D inspect -f '{{.State.ExitCode}} {{.State.Status}}' st_2",
      setup="$D run -d --name st_2 busybox sleep 100; $D stop -t 1 st_2",
      cleanup="$D rm -f st_2"),
    C("stop_exited", "$D stop st_3", setup="$D run --name st_3 busybox true",
      cleanup="$D rm -f st_3"),
    C("stop_nosuch", "$D stop nosuch_ctr", err=True),
    C("restart", "$D restart -t 1 rs_1; $D inspect -f '{{.State.Running}} "
      "{{.RestartCount}}' rs_1",
      setup="$D run -d --name rs_1 busybox sleep 100", cleanup="$D rm -f rs_1"),
    C("restart_policy_on_failure", "$D inspect -f '{{.RestartCount}} {{.State.Status}} "
      "{{.State.ExitCode}}' rs_3",
      setup="$D run -d --name rs_3 --restart on-failure:2 busybox sh -c 'exit 1'; sleep 2",
      cleanup="$D rm -f rs_3"),
    C("restart_exited", "$D restart rs_2; $D logs rs_2",
      setup="$D run --name rs_2 busybox echo ran", cleanup="$D rm -f rs_2"),
    C("kill", "$D kill kl_1; $D wait kl_1; $D inspect -f '{{.State.ExitCode}}' kl_1",
      setup="$D run -d --name kl_1 busybox sleep 100", cleanup="$D rm -f kl_1"),
    C("kill_s_usr1", "$D kill -s USR1 kl_2; $D wait kl_2",
      setup="$D run -d --name kl_2 busybox sh -c 'trap \"exit 10\" USR1; sleep 100 & wait'",
      cleanup="$D rm -f kl_2"),
    C("kill_s_number", "$D kill -s 15 kl_3; $D wait kl_3",
      setup="$D run -d --name kl_3 busybox sh -c 'trap \"exit 9\" TERM; sleep 100 & wait'",
      cleanup="$D rm -f kl_3"),
    C("kill_s_bogus", "$D kill -s BOGUS kl_4",
      setup="$D run -d --name kl_4 busybox sleep 100", cleanup="$D rm -f kl_4", err=True),
    C("kill_not_running", "$D kill kl_5", setup="$D create --name kl_5 busybox true",
      cleanup="$D rm -f kl_5", err=True),
    C("kill_nosuch", "$D kill nosuch_ctr", err=True),
    C("pause_unpause", "$D pause pz_1; $D ps -f name=pz_1 --format '{{.Status}}'; "
      "$D inspect -f '{{.State.Status}} {{.State.Paused}}' pz_1; $D unpause pz_1; "
      "$D inspect -f '{{.State.Status}}' pz_1",
      setup="$D run -d --name pz_1 busybox sleep 100", cleanup="$D rm -f pz_1"),
    C("pause_not_running", "$D pause pz_2", setup="$D create --name pz_2 busybox true",
      cleanup="$D rm -f pz_2", err=True),
    C("unpause_not_paused", "$D unpause pz_3",
      setup="$D run -d --name pz_3 busybox sleep 100", cleanup="$D rm -f pz_3", err=True),

    # ------------------------------------------------------------------------ rm
    C("rm", "$D rm rm_1", setup="$D create --name rm_1 busybox true"),
    C("rm_running", "$D rm rm_2", setup="$D run -d --name rm_2 busybox sleep 100",
      cleanup="$D rm -f rm_2", err=True),
    C("rm_f_running", "$D rm -f rm_3", setup="$D run -d --name rm_3 busybox sleep 100"),
    C("rm_nosuch", "$D rm nosuch_ctr", err=True),
    C("rm_f_nosuch", "$D rm -f nosuch_ctr"),
    C("rm_some_missing", "$D rm rm_4 nosuch_ctr", setup="$D create --name rm_4 busybox true",
      err=True),
    C("rm_v_anonymous", "$D rm -v rm_5; $D volume ls -q",
      setup="$D create --name rm_5 -v /data busybox true"),
    C("rm_keeps_anonymous_without_v", "$D rm rm_6; $D volume ls -q | wc -l",
      setup="$D create --name rm_6 -v /data busybox true",
      cleanup="$D volume prune -f"),

    # ------------------------------------------------------------------------ ps
    C("ps_q_name_no_a", "$D ps -q -f name=ps_web | wc -l; "
      "$D ps -f name=ps_web --format '{{.Names}}'",
      setup="$D run -d --name ps_web1 busybox sleep 100; $D create --name ps_web2 busybox true",
      cleanup="$D rm -f ps_web1 ps_web2"),
    C("ps_name_regex", "$D ps -a --format '{{.Names}}' -f 'name=^psre_web$'",
      setup="for n in psre_web psre_web2 xpsre_web; do $D create --name $n busybox true; done",
      cleanup="$D rm -f psre_web psre_web2 xpsre_web"),
    C("ps_name_slash", "$D ps -a --format '{{.Names}}' -f 'name=/psre_sl'",
      setup="$D create --name psre_sl busybox true", cleanup="$D rm -f psre_sl"),
    C("ps_status_bogus", "$D ps -f status=bogus", err=True),
    C("ps_filter_bogus_key", "$D ps -f bogus=1", err=True),
    C("ps_filter_status_exited", "$D ps -a -f status=exited --format '{{.Names}}'; "
      "$D ps -a -f status=created --format '{{.Names}}'",
      setup="$D run --name ps_ex busybox true; $D create --name ps_cr busybox true",
      cleanup="$D rm -f ps_ex ps_cr"),
    C("ps_filter_exited_code", "$D ps -a -f exited=3 --format '{{.Names}}'",
      setup="$D run --name ps_e3 busybox sh -c 'exit 3'; $D run --name ps_e0 busybox true",
      cleanup="$D rm -f ps_e3 ps_e0"),
    C("ps_filter_label", "$D ps -a -f label=team=a --format '{{.Names}}'; "
      "$D ps -a -f label=team --format '{{.Names}}' | sort",
      setup="$D create --name ps_la -l team=a busybox true; "
      "$D create --name ps_lb -l team=b busybox true",
      cleanup="$D rm -f ps_la ps_lb"),
    C("ps_filter_ancestor", "$D ps -a -f ancestor=busybox:hull --format '{{.Names}}'",
      setup="$D create --name ps_anc busybox:hull true", cleanup="$D rm -f ps_anc"),
    C("ps_filter_id", "$D ps -a -f id=$(cat id) --format '{{.Names}}'",
      setup="$D create --name ps_id busybox true > id", cleanup="$D rm -f ps_id"),
    C("ps_before_since", "$D ps -a -f before=ps_b2 --format '{{.Names}}'; echo --; "
      "$D ps -a -f since=ps_b2 --format '{{.Names}}'",
      setup="for n in ps_b1 ps_b2 ps_b3; do $D create --name $n busybox true; done",
      cleanup="$D rm -f ps_b1 ps_b2 ps_b3"),
    C("ps_n", "$D ps -n 2 --format '{{.Names}}'; echo --; $D ps --last 1 --format '{{.Names}}'",
      setup="for n in ps_n1 ps_n2 ps_n3; do $D create --name $n busybox true; done",
      cleanup="$D rm -f ps_n1 ps_n2 ps_n3"),
    C("ps_l", "$D ps -l --format '{{.Names}}'",
      setup="$D create --name ps_l1 busybox true; $D create --name ps_l2 busybox true",
      cleanup="$D rm -f ps_l1 ps_l2"),
    C("ps_format_json", "$D ps -a -f name=ps_js --format json",
      setup="$D create --name ps_js --network none -l x=y busybox sleep 1",
      cleanup="$D rm -f ps_js"),
    C("ps_format_json_keys", "$D ps -a -f name=ps_jk --format json", shape=json_keys,
      setup="$D create --name ps_jk busybox true", cleanup="$D rm -f ps_jk"),
    C("ps_format_json_func", "$D ps -a -f name=ps_jf --format '{{json .Names}}'",
      setup="$D create --name ps_jf busybox true", cleanup="$D rm -f ps_jf"),
    C("ps_default_table", "$D ps -a -f name=ps_tab",
      setup="$D run -d --name ps_tab busybox sleep 100", cleanup="$D rm -f ps_tab"),
    C("ps_table_min_width", "$D ps -a -f name=ps_w --format 'table {{.Names}}\\t{{.Image}}'",
      setup="$D create --name ps_w busybox true", cleanup="$D rm -f ps_w"),
    C("ps_table_header_only", "$D ps -f name=nosuch_ctr"),
    C("ps_no_trunc", "$D ps -a --no-trunc -f name=ps_nt --format '{{.ID}} {{.Command}}'",
      setup="$D create --name ps_nt busybox sh -c 'echo a very long command line here'",
      cleanup="$D rm -f ps_nt"),
    C("ps_command_trunc", "$D ps -a -f name=ps_ct --format '{{.Command}}'",
      setup="$D create --name ps_ct busybox sh -c 'echo a very long command line here'",
      cleanup="$D rm -f ps_ct"),
    C("ps_created_at", "$D ps -a -f name=ps_ca --format '{{.CreatedAt}}|{{.RunningFor}}'",
      setup="$D create --name ps_ca busybox true", cleanup="$D rm -f ps_ca"),
    C("ps_field_mounts", "$D ps -a -f name=ps_fl --format '{{.Mounts}}|{{.LocalVolumes}}'",
      setup="$D create --name ps_fl -v ps_fl_vol:/data busybox true",
      cleanup="$D rm -f ps_fl; $D volume rm ps_fl_vol"),
    C("ps_field_networks", f"$D ps -f name={SHARED} --format '{{{{.Networks}}}}'"),
    C("ps_field_label", f"$D ps -f name={SHARED} --format '{{{{.Label \"k\"}}}}'"),
    C("ps_field_labels", f"$D ps -f name={SHARED} --format '{{{{.Labels}}}}'"),
    C("ps_field_ports", f"$D ps -f name={SHARED} --format '[{{{{.Ports}}}}]'"),
    C("ps_field_state", f"$D ps -f name={SHARED} --format '{{{{.State}}}} {{{{.Status}}}}'"),
    C("ps_field_command_image", f"$D ps -f name={SHARED} --format '{{{{.Command}}}} "
      f"{{{{.Image}}}}'"),
    C("ps_size", "$D ps -a -s -f name=ps_sz --format '{{.Size}}'",
      setup="$D run --name ps_sz busybox sh -c 'head -c 2000 /dev/zero > /f'",
      cleanup="$D rm -f ps_sz"),
    C("ps_unknown_field", "$D ps --format '{{.Nope}}'"),
    C("ps_q_all_count", "$D ps -aq | wc -l",
      setup="$D create --name ps_cnt busybox true", cleanup="$D rm -f ps_cnt"),
    C("container_inspect", f"$D container inspect -f '{{{{.Name}}}}' {SHARED}"),
    C("container_rm", "$D container rm ps_crm", setup="$D create --name ps_crm busybox true"),
    C("container_ls", "$D container ls -a -f name=ps_cls --format '{{.Names}} {{.Image}}'",
      setup="$D create --name ps_cls busybox true", cleanup="$D rm -f ps_cls"),
    C("container_list_alias", "$D container list -q -f name=nosuch_ctr"),

    # ------------------------------------------------ Go templates (inspect --format)
    C("tpl_index_map", f"$D inspect -f '{{{{index .Config.Labels \"k\"}}}}' {SHARED}"),
    C("tpl_index_list", f"$D inspect -f '{{{{index .Config.Cmd 0}}}}' {SHARED}"),
    C("tpl_len", f"$D inspect -f '{{{{len .Config.Cmd}}}}' {SHARED}"),
    C("tpl_if_else", f"$D inspect -f '{{{{if .State.Running}}}}up{{{{else}}}}down"
      f"{{{{end}}}}' {SHARED}"),
    C("tpl_with", f"$D inspect -f '{{{{with .Config.Labels}}}}[{{{{.k}}}}]{{{{end}}}}' "
      f"{SHARED}"),
    C("tpl_with_empty", f"$D inspect -f '{{{{with .Config.Entrypoint}}}}x{{{{else}}}}none"
      f"{{{{end}}}}' {SHARED}"),
    C("tpl_eq", f"$D inspect -f '{{{{if eq .State.Status \"running\"}}}}yes{{{{end}}}}' "
      f"{SHARED}"),
    C("tpl_ne_and_not", f"$D inspect -f '{{{{if and (ne .State.Status \"exited\") "
      f"(not .State.Paused)}}}}ok{{{{end}}}}' {SHARED}"),
    C("tpl_printf", f"$D inspect -f '{{{{printf \"%s-%d\" .Name .State.ExitCode}}}}' "
      f"{SHARED}"),
    C("tpl_println", f"$D inspect -f '{{{{println .Name}}}}{{{{.State.Status}}}}' {SHARED}"),
    C("tpl_title", f"$D inspect -f '{{{{title .State.Status}}}}' {SHARED}"),
    C("tpl_range_kv", f"$D inspect -f '{{{{range $k, $v := .Config.Labels}}}}{{{{$k}}}}="
      f"{{{{$v}}}};{{{{end}}}}' {SHARED}"),
    C("tpl_range_list", f"$D inspect -f '{{{{range .Config.Cmd}}}}<{{{{.}}}}>{{{{end}}}}' "
      f"{SHARED}"),
    C("tpl_range_else", f"$D inspect -f '{{{{range .Mounts}}}}m{{{{else}}}}no mounts"
      f"{{{{end}}}}' {SHARED}"),
    C("tpl_pipe_upper", f"$D inspect -f '{{{{.Name | upper}}}}' {SHARED}"),
    C("tpl_lower_split_join", f"$D inspect -f '{{{{lower \"AB\"}}}} {{{{join (split "
      f"\"a,b,c\" \",\") \"+\"}}}}' {SHARED}"),
    C("tpl_newline_literal", f"$D inspect -f '{{{{.Name}}}}{{{{\"\\n\"}}}}"
      f"{{{{.State.Status}}}}' {SHARED}"),
    C("tpl_variable", f"$D inspect -f '{{{{$n := .Name}}}}{{{{$n}}}}' {SHARED}"),
    C("tpl_json_map", f"$D inspect -f '{{{{json .Config.Labels}}}}' {SHARED}"),
    C("tpl_json_list", f"$D inspect -f '{{{{json .Config.Cmd}}}}' {SHARED}"),
    C("tpl_json_nil", f"$D inspect -f '{{{{json .Config.Entrypoint}}}}' {SHARED}"),
    C("tpl_map_print", f"$D inspect -f '{{{{.Config.Labels}}}}' {SHARED}"),
    C("tpl_bool_int", f"$D inspect -f '{{{{.State.Running}}}} {{{{.State.ExitCode}}}} "
      f"{{{{.HostConfig.Memory}}}}' {SHARED}"),
    C("tpl_truncate_pad", f"$D inspect -f '[{{{{truncate .Name 4}}}}][{{{{pad \"x\" 1 2}}}}]' "
      f"{SHARED}"),
    C("tpl_unknown_field", f"$D inspect -f '{{{{.Nope}}}}' {SHARED}", err=True),
    C("tpl_unknown_nested", f"$D inspect -f '{{{{.Config.Nope}}}}' {SHARED}"),
    C("tpl_syntax_error", f"$D inspect -f '{{{{.Name' {SHARED}"),
    C("tpl_unknown_function", f"$D inspect -f '{{{{nosuchfunc .Name}}}}' {SHARED}"),

    # ------------------------------------------------------------------ inspect
    C("inspect_restart_policy", f"$D inspect -f '{{{{json .HostConfig.RestartPolicy}}}}' "
      f"{SHARED}"),
    C("inspect_restart_policy_set", "$D inspect -f '{{.HostConfig.RestartPolicy.Name}} "
      "{{.HostConfig.RestartPolicy.MaximumRetryCount}}' in_rp",
      setup="$D create --name in_rp --restart on-failure:3 busybox true",
      cleanup="$D rm -f in_rp"),
    C("inspect_log_path", f"$D inspect -f '{{{{.LogPath}}}}' {SHARED}"),
    C("inspect_ip_address", f"$D inspect -f '[{{{{.NetworkSettings.IPAddress}}}}]' {SHARED}"),
    C("inspect_network_mode", f"$D inspect -f '{{{{.HostConfig.NetworkMode}}}} "
      f"{{{{range $k, $v := .NetworkSettings.Networks}}}}{{{{$k}}}}{{{{end}}}}' {SHARED}"),
    C("inspect_health_none", f"$D inspect -f '{{{{.State.Health}}}} "
      f"{{{{json .State.Health}}}}' {SHARED}"),
    C("inspect_health", "$D inspect -f '{{.State.Health.Status}} "
      "{{.State.Health.FailingStreak}} {{gt (len .State.Health.Log) 0}}' in_hc",
      setup="$D run -d --name in_hc --health-cmd true --health-interval 1s "
      "busybox sleep 100; sleep 2.5", cleanup="$D rm -f in_hc"),
    C("inspect_health_config", "$D inspect -f '{{json .Config.Healthcheck}}' in_hcc",
      setup="$D create --name in_hcc --health-cmd 'test -e /' --health-interval 5s "
      "--health-retries 2 busybox true", cleanup="$D rm -f in_hcc"),
    C("inspect_name_hostname", f"$D inspect -f '{{{{.Name}}}} {{{{.Config.Hostname}}}} "
      f"{{{{.Config.Image}}}} {{{{.Image}}}}' {SHARED}"),
    C("inspect_env", f"$D inspect -f '{{{{json .Config.Env}}}}' {SHARED}"),
    C("inspect_state_fields", f"$D inspect -f '{{{{.State.Status}}}} {{{{.State.Running}}}} "
      f"{{{{.State.Paused}}}} {{{{.State.Restarting}}}} {{{{.State.OOMKilled}}}} "
      f"{{{{.State.Dead}}}} {{{{.State.Error}}}}|{{{{.State.StartedAt}}}} "
      f"{{{{.State.FinishedAt}}}}' {SHARED}"),
    C("inspect_created_state", "$D inspect -f '{{.State.Status}} {{.State.StartedAt}} "
      "{{.State.FinishedAt}} {{.State.Pid}}' in_cr",
      setup="$D create --name in_cr busybox true", cleanup="$D rm -f in_cr"),
    C("inspect_keys", f"$D inspect {SHARED}", shape=json_keys),
    C("inspect_mounts", "$D inspect -f '{{json .Mounts}}' in_mnt", shape=json_items_sorted,
      setup="$D create --name in_mnt -v in_mnt_vol:/data -v \"$T\":/host:ro busybox true",
      cleanup="$D rm -f in_mnt; $D volume rm in_mnt_vol"),
    C("inspect_type_container", f"$D inspect --type container -f '{{{{.Name}}}}' {SHARED}"),
    C("inspect_type_image", "$D inspect --type image -f '{{.Id}}' busybox"),
    C("inspect_type_volume", "$D inspect --type volume -f '{{.Name}} {{.Driver}}' in_tv",
      setup="$D volume create in_tv", cleanup="$D volume rm in_tv"),
    C("inspect_type_wrong", "$D inspect --type container busybox", err=True),
    C("inspect_type_bogus", "$D inspect --type bogus busybox", err=True),
    C("inspect_s", f"$D inspect -s -f '{{{{.SizeRw}}}} {{{{.SizeRootFs}}}}' {SHARED}"),
    C("inspect_no_s", f"$D inspect -f '{{{{.SizeRw}}}}' {SHARED}"),
    C("inspect_image_by_name", "$D inspect -f '{{.Id}} {{.RepoTags}}' busybox"),
    C("inspect_nosuch", "$D inspect nosuch_obj", err=True),
    C("inspect_some_missing", f"$D inspect -f '{{{{.Name}}}}' {SHARED} nosuch_obj", err=True),
    C("inspect_no_args", "$D inspect", err=True),

    # --------------------------------------------------------------------- logs
    C("logs", f"$D logs {SHARED}", err=True),
    C("logs_n", "$D logs -n 2 lg_1; echo --; $D logs --tail 0 lg_1; echo --; "
      "$D logs --tail all lg_1 | wc -l",
      setup="$D run --name lg_1 busybox sh -c 'for i in 1 2 3 4 5; do echo $i; done'",
      cleanup="$D rm -f lg_1"),
    C("logs_t", "$D logs -t lg_2",
      setup="$D run --name lg_2 busybox echo stamped", cleanup="$D rm -f lg_2"),
    C("logs_f_exited", "timeout 20 $D logs -f lg_3",
      setup="$D run --name lg_3 busybox echo done", cleanup="$D rm -f lg_3"),
    C("logs_f_follows", "timeout 20 $D logs -f lg_7",
      setup="$D run -d --name lg_7 busybox sh -c 'echo a; sleep 1; echo b'",
      cleanup="$D rm -f lg_7"),
    C("logs_since_future", "$D logs --since 2100-01-01T00:00:00Z lg_4; echo --; "
      "$D logs --until 2000-01-01T00:00:00Z lg_4",
      setup="$D run --name lg_4 busybox echo old", cleanup="$D rm -f lg_4"),
    C("logs_since_relative", "$D logs --since 1h lg_5",
      setup="$D run --name lg_5 busybox echo recent", cleanup="$D rm -f lg_5"),
    C("logs_no_newline", "$D logs lg_6 | od -c | head -2",
      setup="$D run --name lg_6 busybox printf 'a\\nb'", cleanup="$D rm -f lg_6"),
    C("logs_nosuch", "$D logs nosuch_ctr", err=True),

    # --------------------------------------------------------------------- exec
    C("exec", f"$D exec {SHARED} echo hi"),
    C("exec_rc", f"$D exec {SHARED} sh -c 'exit 5'"),
    C("exec_env", f"$D exec -e X=1 {SHARED} env | sort"),
    C("exec_u", f"$D exec -u nobody {SHARED} id"),
    C("exec_w", f"$D exec -w /tmp {SHARED} pwd"),
    # same exit code (126) and words; Docker writes the failure into the process's stdout
    # stream, hull to stderr, where errors belong
    C("exec_w_missing", f"$D exec -w /nonexistent {SHARED} pwd", err=None, hull="",
      docker='OCI runtime exec failed: exec failed: unable to start container process: '
      'chdir to cwd ("/nonexistent") set in config.json failed: no such file or '
      'directory: unknown\n', why="the error goes to stderr"),
    C("exec_nosuchcmd", f"$D exec {SHARED} nosuchcmd", err=None, hull="",
      docker='OCI runtime exec failed: exec failed: unable to start container process: '
      'exec: "nosuchcmd": executable file not found in $PATH: unknown\n',
      why="the error goes to stderr"),
    C("exec_not_running", "$D exec ex_1 true", setup="$D create --name ex_1 busybox true",
      cleanup="$D rm -f ex_1", err=True),
    C("exec_nosuch", "$D exec nosuch_ctr true", err=True),
    C("exec_it_no_tty", f"echo x | timeout -k 1 5 $D exec -it {SHARED} cat", err=True),
    C("exec_i", f"echo hello | $D exec -i {SHARED} cat"),
    C("exec_no_i", f"echo hello | $D exec {SHARED} cat"),
    C("exec_d", f"$D exec -d {SHARED} true"),
    C("exec_t_term", f"script -qec \"$D exec -t {SHARED} sh -c 'echo \\$TERM'\" /dev/null "
      "| tr -d '\\r'"),
    C("exec_no_cmd", f"$D exec {SHARED}", err=True),

    # --------------------------------------------------------- wait / rename / top
    C("wait", "$D wait wt_1", setup="$D run -d --name wt_1 busybox sh -c 'exit 7'",
      cleanup="$D rm -f wt_1"),
    C("wait_nosuch", "$D wait nosuch_ctr", err=True),
    C("rename", "$D rename rn_1 rn_2; $D ps -a -f name=rn_ --format '{{.Names}}'",
      setup="$D create --name rn_1 busybox true", cleanup="$D rm -f rn_2 rn_1"),
    C("rename_clash", "$D rename rn_a rn_b",
      setup="$D create --name rn_a busybox true; $D create --name rn_b busybox true",
      cleanup="$D rm -f rn_a rn_b", err=True),
    C("rename_nosuch", "$D rename nosuch_ctr rn_c", err=True),
    C("rename_missing_arg", "$D rename rn_d", err=True),
    C("top", f"$D top {SHARED}", shape=top_shape),
    C("top_columns", f"$D top {SHARED}", shape=first_line),
    C("top_ps_args", f"$D top {SHARED} -o pid,comm", shape=top_shape),
    C("top_not_running", "$D top tp_1", setup="$D create --name tp_1 busybox true",
      cleanup="$D rm -f tp_1", err=True),

    # --------------------------------------------------------------------- stats
    C("stats_no_stream", f"$D stats --no-stream {SHARED}", shape=stats_shape),
    C("stats_columns", f"$D stats --no-stream {SHARED}", shape=first_line),
    C("stats_format", f"$D stats --no-stream --format '{{{{.Name}}}} {{{{.PIDs}}}}' {SHARED}"),
    C("stats_format_json_keys", f"$D stats --no-stream --format '{{{{json .}}}}' {SHARED}",
      shape=json_keys),
    C("stats_all_stopped", "$D stats --no-stream -a --format '{{.Name}} {{.CPUPerc}} "
      "{{.PIDs}}' sa_1", setup="$D create --name sa_1 busybox true",
      cleanup="$D rm -f sa_1"),
    C("stats_nosuch", "$D stats --no-stream nosuch_ctr", err=True),

    # -------------------------------------------------------------------- events
    C("events_default", "$D events --since $S --until $(date +%s.%N) -f container=ev_1",
      setup="S=$(date +%s); $D run -d --name ev_1 busybox true; $D wait ev_1; $D rm ev_1"),
    C("events_fields", "$D events --since $S --until $(date +%s.%N) -f container=ev_2 "
      "--format '{{.ID}} {{.Status}} {{.Time}} {{.TimeNano}} {{.From}} {{.Type}} "
      "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'",
      setup="S=$(date +%s); $D create --name ev_2 busybox true; $D rm ev_2"),
    C("events_json", "$D events --since $S --until $(date +%s.%N) -f container=ev_3 "
      "--format '{{json .}}'",
      setup="S=$(date +%s); $D create --name ev_3 busybox true; $D rm ev_3"),
    C("events_filter_event", "$D events --since $S --until $(date +%s.%N) -f container=ev_4 "
      "-f event=die --format '{{.Action}} {{.Actor.Attributes.exitCode}}'",
      setup="S=$(date +%s); $D run -d --name ev_4 busybox sh -c 'exit 4'; $D wait ev_4",
      cleanup="$D rm -f ev_4"),
    C("events_lifecycle", "$D events --since $S --until $(date +%s.%N) -f container=ev_5 "
      "--format '{{.Action}}'",
      setup="S=$(date +%s); $D run -d --name ev_5 busybox sleep 100; $D pause ev_5; "
      "$D unpause ev_5; $D rename ev_5 ev_5b; $D rename ev_5b ev_5; $D kill ev_5; "
      "$D wait ev_5; $D rm ev_5"),
    C("system_events", "$D system events --since $S --until $(date +%s.%N) "
      "-f container=ev_6 --format '{{.Action}}'",
      setup="S=$(date +%s); $D create --name ev_6 busybox true; $D rm ev_6"),
    C("events_bad_since", "$D events --since nonsense --until 1", err=True),

    # ------------------------------------------------------------------------- cp
    C("cp_out", f"$D cp {SHARED}:/etc/passwd p && cat p"),
    C("cp_out_stdout_tar", f"$D cp {SHARED}:/etc/passwd - | tar -t"),
    C("cp_in", "echo hi > f; $D cp f cp_1:/tmp/f && $D start -a cp_1",
      setup="$D create --name cp_1 busybox cat /tmp/f", cleanup="$D rm -f cp_1"),
    C("cp_in_dir", "mkdir -p d/sub; echo x > d/sub/y; $D cp d cp_2:/tmp && "
      "$D start -a cp_2", setup="$D create --name cp_2 busybox find /tmp/d",
      cleanup="$D rm -f cp_2"),
    C("cp_stdin_not_tar", "echo notatar | $D cp - cp_3:/",
      setup="$D create --name cp_3 busybox true", cleanup="$D rm -f cp_3", err=True),
    C("cp_missing_src", f"$D cp {SHARED}:/nope x", err=True),
    C("cp_nosuch_container", "$D cp nosuch_ctr:/etc/passwd x", err=True),
    C("cp_no_container", "$D cp a b", err=True),

    # ----------------------------------------------------------------------- diff
    # (docker's order differs from run to run)
    C("diff", "$D diff df_1", shape=sorted_lines,
      setup="$D run --name df_1 busybox sh -c 'mkdir -p /a/b; touch /tmp/x; rm /etc/group'",
      cleanup="$D rm -f df_1"),
    C("diff_none", "$D diff df_2", setup="$D create --name df_2 busybox true",
      cleanup="$D rm -f df_2"),
    C("diff_nosuch", "$D diff nosuch_ctr", err=True),

    # --------------------------------------------------------------------- commit
    C("commit_prints_id", "$D commit cm_1 cm_img:1",
      setup="$D run --name cm_1 busybox touch /new", cleanup="$D rm -f cm_1; $D rmi cm_img:1"),
    C("commit_m_comment", "$D inspect -f '{{.Comment}}|{{.Author}}' cm_img:2",
      setup="$D run --name cm_2 busybox touch /new; $D commit -m hello -a me cm_2 cm_img:2",
      cleanup="$D rm -f cm_2; $D rmi cm_img:2"),
    C("commit_c", "$D inspect -f '{{json .Config.Env}} {{json .Config.Cmd}} "
      "{{.Config.WorkingDir}}' cm_img:3; $D run --rm cm_img:3",
      setup="$D run --name cm_3 busybox true; "
      "$D commit -c 'ENV X=1' -c 'CMD [\"echo\", \"from-cmd\"]' -c 'WORKDIR /srv' "
      "cm_3 cm_img:3", cleanup="$D rm -f cm_3; $D rmi cm_img:3"),
    C("commit_keeps_file", "$D run --rm cm_img:4 cat /new",
      setup="$D run --name cm_4 busybox sh -c 'echo kept > /new'; $D commit cm_4 cm_img:4",
      cleanup="$D rm -f cm_4; $D rmi cm_img:4"),
    C("commit_history", "$D history --format '{{.CreatedBy}}|{{.Comment}}' cm_img:5",
      setup="$D run --name cm_5 busybox true; $D commit -m msg cm_5 cm_img:5",
      cleanup="$D rm -f cm_5; $D rmi cm_img:5"),
    C("commit_nosuch", "$D commit nosuch_ctr cm_img:6", err=True),

    # ----------------------------------------------------------- export / import
    C("export", "$D export ex_1 | tar -t", shape=tar_list,
      setup="$D create --name ex_1 busybox true", cleanup="$D rm -f ex_1"),
    C("export_o", "$D export -o e.tar ex_2 && tar -tf e.tar | grep -c bin/busybox",
      setup="$D create --name ex_2 busybox true", cleanup="$D rm -f ex_2"),
    C("export_nosuch", "$D export nosuch_ctr", err=True),
    C("import", "$D import rootfs.tar im_img:1 && $D run --rm im_img:1 cat /hello",
      setup="mkdir r; echo imported > r/hello; cp -a /bin/busybox r/; "
      "mkdir r/bin; ln -s ../busybox r/bin/cat; tar -C r -cf rootfs.tar .",
      cleanup="$D rmi im_img:1"),
    C("import_stdin_change", "$D import -c 'CMD [\"/x\"]' -m note - im_img:2 < rootfs.tar "
      ">/dev/null && $D inspect -f '{{json .Config.Cmd}} {{.Comment}}' im_img:2",
      setup="mkdir r; echo x > r/x; tar -C r -cf rootfs.tar .",
      cleanup="$D rmi im_img:2"),
    C("import_missing_file", "$D import nosuch.tar im_img:3", err=True),

    # --------------------------------------------------------------------- attach
    C("attach", "timeout 20 $D attach at_1",
      setup="$D run -d --name at_1 busybox sh -c 'sleep 1; echo attached; exit 3'",
      cleanup="$D rm -f at_1"),
    C("attach_stopped", "$D attach at_2", setup="$D create --name at_2 busybox true",
      cleanup="$D rm -f at_2", err=True),

    # ------------------------------------------------------------- update / port
    C("update_cpus", "$D update --cpus 0.5 up_1; $D inspect -f '{{.HostConfig.NanoCpus}}' up_1",
      setup="$D run -d --name up_1 busybox sleep 100", cleanup="$D rm -f up_1"),
    C("update_memory_and_swap", "$D update -m 64m --memory-swap 128m up_2 && "
      "$D inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}' up_2",
      setup="$D run -d --name up_2 busybox sleep 100", cleanup="$D rm -f up_2"),
    # Docker refuses a memory limit alone once the container has no swap limit to go with it
    C("update_memory_only", "$D update -m 64m up_4", err=None, hull="up_4\n", hull_rc=0,
      setup="$D run -d --name up_4 busybox sleep 100", cleanup="$D rm -f up_4",
      why="Docker refuses a memory limit on a container whose memory+swap is unset (0, "
      "unlimited), comparing the new limit with 0; hull refuses only a new limit above an "
      "existing swap limit (update_memory_above_swap)"),
    C("update_memory_above_swap", "$D update -m 96m up_5", err=True,
      setup="$D run -d --name up_5 -m 32m --memory-swap 64m busybox sleep 100",
      cleanup="$D rm -f up_5"),
    C("update_restart", "$D update --restart on-failure:2 up_3; "
      "$D inspect -f '{{json .HostConfig.RestartPolicy}}' up_3",
      setup="$D create --name up_3 busybox true", cleanup="$D rm -f up_3"),
    C("update_nosuch", "$D update --cpus 1 nosuch_ctr", err=True),
    C("port", f"$D port {SHARED}"),

    # ---------------------------------------------------------- container prune
    C("container_prune", "$D container prune -f", shape=sorted_lines,
      setup="$D create --name cpr_1 busybox true; $D run --name cpr_2 busybox true"),
    C("container_prune_nothing", "$D container prune -f"),
    C("container_prune_filter_label", "$D container prune -f --filter label=prune=yes; "
      "$D ps -a -f name=cpr_ --format '{{.Names}}'",
      setup="$D create --name cpr_3 -l prune=yes busybox true; "
      "$D create --name cpr_4 busybox true", cleanup="$D rm -f cpr_3 cpr_4"),
    C("container_prune_filter_until", "$D container prune -f --filter until=1h; "
      "$D ps -a -f name=cpr_ --format '{{.Names}}'",
      setup="$D create --name cpr_5 busybox true", cleanup="$D rm -f cpr_5"),

    # --------------------------------------------------------------------- images
    C("images", "$D images"),
    C("images_q", "$D images -q"),
    C("images_q_nosuch", "$D images -q nosuch_repo"),
    C("images_nosuch_table", "$D images nosuch_repo"),
    C("images_repository", "$D images busybox; echo --; $D images busybox:latest"),
    C("images_format", "$D images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'"),
    C("images_format_table", "$D images --format 'table {{.Repository}}\\t{{.Tag}}'"),
    C("images_format_json_keys", "$D images --format json", shape=json_keys),
    C("images_filter_reference", "$D images -q -f reference=busybox:lat*; echo --; "
      "$D images --format '{{.Tag}}' -f 'reference=bus*'"),
    C("images_filter_dangling", "$D images -f dangling=true"),
    C("images_filter_before_since", "$D images --format '{{.Tag}}' -f since=busybox:latest; "
      "echo --; $D images --format '{{.Tag}}' -f before=busybox:hull"),
    C("images_filter_label", "$D images -q -f label=nosuch=1"),
    C("images_filter_bogus", "$D images -f bogus=1", err=True),
    C("images_digests", "$D images --digests busybox"),
    C("images_no_trunc", "$D images --no-trunc busybox"),
    C("images_tagged", "$D images im_t/x", setup="$D tag busybox im_t/x:1",
      cleanup="$D rmi im_t/x:1"),
    C("image_ls", "$D image ls busybox:hull"),

    # ----------------------------------------------------------- image inspect
    C("image_inspect_fields", "$D image inspect -f '{{.Os}} {{.Architecture}} "
      "{{json .Config.Cmd}} {{.RootFS.Type}} {{len .RootFS.Layers}} {{.Size}}' busybox"),
    C("image_inspect_keys", "$D image inspect busybox", shape=json_keys),
    C("image_inspect_repotags", "$D image inspect -f '{{json .RepoTags}} "
      "{{json .RepoDigests}}' busybox"),
    C("image_inspect_nosuch", "$D image inspect nosuch_img", err=True),
    C("image_inspect_container_name", f"$D image inspect {SHARED}", err=True),

    # ------------------------------------------------------------------------ rmi
    C("rmi_in_use_stopped", "$D rmi rmi_img:1",
      setup="$D tag busybox:hull rmi_img:1; $D rmi busybox:hull; "
      "$D create --name rmi_1 rmi_img:1 true",
      cleanup="$D rm -f rmi_1; $D tag rmi_img:1 busybox:hull; $D rmi rmi_img:1", err=True),
    C("rmi_f_nosuch", "$D rmi -f nosuch_img"),
    C("rmi_nosuch", "$D rmi nosuch_img", err=True),
    C("rmi_tag", "$D rmi rmi_img:2", setup="$D tag busybox rmi_img:2"),
    C("rmi_image", "$D rmi rmi_img:3",
      setup="$D run --name rmi_3 busybox touch /x; $D commit rmi_3 rmi_img:3; $D rm rmi_3"),
    C("image_rm", "$D image rm rmi_img:5", setup="$D tag busybox rmi_img:5"),

    # ------------------------------------------------------------------------ tag
    C("tag", "$D tag busybox tg_img:1 && $D images tg_img", cleanup="$D rmi tg_img:1"),
    C("tag_uppercase", "$D tag busybox BAD:1", err=True),
    C("tag_bad_tag", "$D tag busybox tg_img:bad@tag", err=True),
    C("tag_missing_source", "$D tag nosuch_img tg_img:2", err=True),
    C("tag_missing_arg", "$D tag busybox", err=True),
    C("image_tag", "$D image tag busybox tg_img:3 && $D images -q tg_img:3",
      cleanup="$D rmi tg_img:3"),

    # -------------------------------------------------------------------- history
    C("history", "$D history busybox"),
    C("history_q", "$D history -q busybox"),
    C("history_no_trunc", "$D history --no-trunc busybox:hull"),
    C("history_format", "$D history --format '{{.ID}}|{{.CreatedBy}}|{{.Size}}|"
      "{{.CreatedSince}}' busybox"),
    C("history_format_table", "$D history --format 'table {{.ID}}\\t{{.Size}}' busybox"),
    C("history_nosuch", "$D history nosuch_img", err=True),
    C("image_history", "$D image history -q busybox:hull"),

    # ---------------------------------------------------------------- save / load
    C("save_load", "$D save -o b.tar sl_img:1 && $D rmi sl_img:1 >/dev/null && "
      "$D load -i b.tar", setup="$D tag busybox sl_img:1", cleanup="$D rmi sl_img:1"),
    C("save_stdout_manifest", "$D save busybox | tar -t", shape=has_manifest),
    # the order of a repository's tags in `save busybox` is docker's reference store's
    # (it varies between runs); hull's is by name: compare the set of lines
    C("load_q", "$D load -q -i b.tar", setup="$D save -o b.tar busybox",
      shape=lambda out: "\n".join(sorted(out.splitlines()))),
    C("load_stdin", "$D load < b.tar", setup="$D save -o b.tar busybox:hull"),
    C("load_not_tar", "echo garbage | $D load", err=True),
    C("save_nosuch", "$D save -o x.tar nosuch_img", err=True),
    C("save_to_terminal", "script -qec \"$D save busybox\" /dev/null | tr -d '\\r' | head -1"),
    C("image_save_load", "$D image save busybox:hull | $D image load"),

    # ---------------------------------------------------------------- image prune
    C("image_prune_dangling", "$D image prune -f"),
    C("image_prune_dangling_some", "$D image prune -f; $D images -q -f dangling=true",
      setup="$D run --name ip_3 busybox touch /x; $D commit ip_3 ip_img:3; $D rm ip_3; "
      "$D rmi -f ip_img:3 >/dev/null; $D run --name ip_4 busybox touch /y; "
      "$D commit ip_4 >/dev/null; $D rm ip_4"),
    C("image_prune_filter_label", "$D image prune -af --filter label=nosuch=1"),
    C("image_prune_filter_until", "$D image prune -af --filter until=1000h; $D images -q"),

    # -------------------------------------------------------------------- volumes
    C("volume_create", "$D volume create vol_1", cleanup="$D volume rm vol_1"),
    C("volume_create_anonymous", "$D volume create",
      cleanup="$D volume rm $($D volume ls -q)"),
    C("volume_create_again", "$D volume create vol_2", setup="$D volume create vol_2",
      cleanup="$D volume rm vol_2"),
    C("volume_create_bad_name", "$D volume create 'bad/name'", err=True),
    C("volume_ls", "$D volume ls", setup="$D volume create vol_3",
      cleanup="$D volume rm vol_3"),
    C("volume_ls_q", "$D volume ls -q", setup="$D volume create vol_4",
      cleanup="$D volume rm vol_4"),
    C("volume_ls_format", "$D volume ls --format '{{.Name}} {{.Driver}} {{.Scope}} "
      "{{.Mountpoint}}'", setup="$D volume create vol_5", cleanup="$D volume rm vol_5"),
    C("volume_ls_filter_name", "$D volume ls -q -f name=vol_6",
      setup="$D volume create vol_6a; $D volume create vol_6b; $D volume create vol_7",
      cleanup="$D volume rm vol_6a vol_6b vol_7"),
    C("volume_ls_filter_dangling", "$D volume ls -q -f dangling=true; echo --; "
      "$D volume ls -q -f dangling=false",
      setup="$D volume create vol_8; $D create --name vl_1 -v vol_9:/d busybox true",
      cleanup="$D rm -f vl_1; $D volume rm vol_8 vol_9"),
    C("volume_ls_filter_label", "$D volume ls -q -f label=tier=a",
      setup="$D volume create --label tier=a vol_10; $D volume create vol_11",
      cleanup="$D volume rm vol_10 vol_11"),
    C("volume_inspect", "$D volume inspect vol_12",
      setup="$D volume create --label a=b vol_12", cleanup="$D volume rm vol_12"),
    C("volume_inspect_f", "$D volume inspect -f '{{.Mountpoint}} {{.Name}} {{json .Labels}} "
      "{{json .Options}}' vol_13", setup="$D volume create vol_13",
      cleanup="$D volume rm vol_13"),
    C("volume_inspect_nosuch", "$D volume inspect nosuch_vol", err=True),
    C("volume_rm_in_use", "$D volume rm vol_14",
      setup="$D create --name vl_2 -v vol_14:/d busybox true",
      cleanup="$D rm -f vl_2; $D volume rm vol_14", err=True),
    C("volume_rm_nosuch", "$D volume rm nosuch_vol", err=True),
    C("volume_rm_f_nosuch", "$D volume rm -f nosuch_vol"),
    C("volume_prune", "$D volume prune -f; $D volume ls -q", shape=sorted_lines,
      setup="$D volume create vol_15; $D create --name vl_3 -v /anon busybox true; "
      "$D rm vl_3", cleanup="$D volume rm -f vol_15",
      # the 20.10 daemon prunes named volumes too; Docker ≥ 23 (API 1.42) only anonymous
      # ones unless -a, and hull follows current Docker
      hull="\n<ID1>\nDeleted Volumes:\nTotal reclaimed space: 0B\nvol_15",
      why="current Docker prunes only anonymous volumes without --all"),
    C("volume_prune_all", "$D volume prune -af", shape=sorted_lines,
      setup="$D volume create vol_16", cleanup="$D volume rm -f vol_16", err=None,
      # the 20.10 daemon does not know --all (API 1.42): docker 28 refuses it there
      hull="\nDeleted Volumes:\nTotal reclaimed space: 0B\nvol_16", hull_rc=0,
      why="--all needs API 1.42, which this dockerd lacks; current Docker removes vol_16"),

    # ------------------------------------------------------------------ system df
    C("system_df", "$D system df"),
    C("system_df_rows", "$D system df", shape=df_rows),
    C("system_df_v", "$D system df -v"),
    C("system_df_format", "$D system df --format '{{.Type}}|{{.TotalCount}}|{{.Active}}'"),
    C("system_df_format_json_keys", "$D system df --format '{{json .}}'", shape=json_keys),
    C("system_df_with_container", "$D system df --format '{{.Type}} {{.TotalCount}} "
      "{{.Active}}'", setup="$D create --name sdf_1 -v sdf_vol:/d busybox true",
      cleanup="$D rm -f sdf_1; $D volume rm sdf_vol"),

    # --------------------------------------------------------------- system prune
    C("system_prune", "$D system prune -f",
      setup="$D create --name sp_1 busybox true", shape=sorted_lines),
    C("system_prune_nothing", "$D system prune -f"),

    # ---------------------------------------------------------------------- info
    C("info_rc", "$D info", out=False, err=None),
    C("system_info_counts", "$D system info --format '{{.Containers}} {{.ContainersRunning}} "
      "{{.ContainersPaused}} {{.ContainersStopped}} {{.Images}}'"),
    C("info_host_facts", "$D info --format '{{.OSType}} {{.Architecture}} {{.NCPU}} "
      "{{.MemTotal}} {{.KernelVersion}} {{.OperatingSystem}}'"),
    C("info_cgroup", "$D info --format '{{.CgroupVersion}} {{.CgroupDriver}}'"),
    C("info_root_dir", "$D info --format '{{.DockerRootDir}}'"),
    # the storage driver is hull's own; only that it names one
    C("info_driver", "$D info --format '{{.Driver}}'", shape=lambda s: str(bool(s.strip()))),
    C("info_json_keys", "$D info --format '{{json .}}'",
      shape=lambda s: str({"Containers", "Images", "Driver", "NCPU", "MemTotal"}
                          <= set(json.loads(s or "{}")))),

    # -------------------------------------------------------------------- version
    C("version_shape", "$D version", shape=version_shape),
    C("version_format", "$D version --format '{{.Client.Version}}'", shape=versionish),
    C("version_format_server", "$D version --format '{{.Server.Version}}'", shape=versionish),
    C("version_flag", "$D --version", shape=versionish),
    C("version_format_json_keys", "$D version --format '{{json .}}'",
      shape=lambda s: " ".join(sorted(json.loads(s or "{}")))),

    # ------------------------------------------------- help and bad command lines
    C("help_cmd", "$D help ps", shape=flag_help),
    C("help_top", "$D --help", shape=lambda s: f"usage={'Usage:' in s} "
      f"commands={all(w in s for w in (' run ', ' ps ', ' images ', ' volume '))}"),
    C("help_no_args", "$D", out=False),
    C("help_flag_ps", "$D ps --help", shape=flag_help),
    C("help_flag_run", "$D run --help", shape=flag_help),
    C("help_flag_images", "$D images --help", shape=flag_help),
    C("help_flag_exec", "$D exec --help", shape=flag_help),
    C("help_flag_logs", "$D logs --help", shape=flag_help),
    C("help_flag_rm", "$D rm --help", shape=flag_help),
    C("help_flag_volume_ls", "$D volume ls --help", shape=flag_help),
    C("help_container", "$D container --help", shape=flag_help),
    C("unknown_command", "$D nosuchcommand", err=True),
    C("unknown_subcommand", "$D image nosuchcommand", err=True),
    C("missing_argument_rm", "$D rm", err=True),
    C("missing_argument_start", "$D start", err=True),
    C("bad_flag_ps", "$D ps --bogus", err=True),
    C("bad_short_flag", "$D images -Z", err=True),
    C("bad_flag_value", "$D stop -t notanumber x", err=True),

    # ------------------------------------------------- registries (none reachable)
    C("pull_unreachable", "$D pull 127.0.0.1:1/nosuch:1", out=False),
    C("pull_bad_reference", "$D pull BAD", err=True),
    C("push_unreachable", "$D push 127.0.0.1:1/pu_img:1", out=False,
      setup="$D tag busybox 127.0.0.1:1/pu_img:1", cleanup="$D rmi 127.0.0.1:1/pu_img:1"),
    C("push_missing_local", "$D push 127.0.0.1:1/nosuch:1", err=True),
    C("login_unreachable", "$D login -u a -p b 127.0.0.1:1", out=False, err=None),
    C("login_password_stdin", "echo b | $D login -u a --password-stdin 127.0.0.1:1",
      out=False),
    C("logout_not_logged_in", "$D logout 127.0.0.1:1"),

    # ----- last: cases that may take busybox from under the running parity_shared
    C("rmi_in_use_running", "$D rmi busybox", err=True),
    C("rmi_f_in_use_running", "$D rmi -f busybox; $D images -q busybox", err=True,
      cleanup="$D tag cfdbc9b26243 busybox:latest"),
    C("rmi_by_id_multi_tag", "$D rmi $($D images -q busybox:hull)", err=True,
      setup="$D tag busybox:hull rmi_img:4", cleanup="$D rmi rmi_img:4"),
    C("image_prune_af_keeps_used", "$D image prune -af > /dev/null; $D images",
      setup="$D run --name ip_1 busybox touch /x; $D commit ip_1 ip_img:1; $D rm ip_1"),
    C("image_prune_af_output", "$D image prune -af", shape=sorted_lines,
      setup="$D run --name ip_2 busybox touch /x; $D commit ip_2 ip_img:2; $D rm ip_2"),
    C("system_prune_a", "$D system prune -af > /dev/null; $D images; $D ps -a --format "
      "'{{.Names}}'", setup="$D create --name sp_2 busybox:hull true"),
]

# What docker printed (normalized) for the known differences, pinned: a case whose
# setup broke on both sides must not pass by the two agreeing on nothing.
DOCKER_SAYS = {
    "ps_q_name_no_a": "1\nps_web1\n",
    "ps_name_regex": "psre_web\n",
    "ps_before_since": f"ps_b1\n{SHARED}\n--\nps_b3\n",
    "ps_n": "ps_n3\nps_n2\n--\nps_n3\n",
    "ps_table_min_width": "NAMES     IMAGE\nps_w      busybox\n",
    "tpl_range_kv": "k=v;\n",
    "tpl_pipe_upper": "/PARITY_SHARED\n",
    "tpl_newline_literal": f"/{SHARED}\nrunning\n",
    "inspect_restart_policy": '{"Name":"no","MaximumRetryCount":0}\n',
    "inspect_log_path": "<ROOT>/containers/<ID1>/<ID1>-json.log\n",
    "images_filter_reference": "cfdbc9b26243\n--\nhull\nlatest\n",
    "run_w_new_dir": "/new/dir\n",
    "run_env": "HOME=/root\nHOSTNAME=<ID1>\n"
               "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
    "run_u_1234_env": "HOME=/\nHOSTNAME=<ID1>\n"
                      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
    "run_t_term": "xterm\n",
    "run_lo_ping": "reachable\n",
    "run_v_relative": "hi\n",
    "run_nosuchcmd_ps_created": "Created\n",
    "run_id_groups": "uid=0(root) gid=0(root) groups=0(root)\n",
    "run_etc_mtab": "/proc/mounts\n",
    "commit_m_comment": "hello|me\n",
}
CASES = [dataclasses.replace(c, docker=DOCKER_SAYS[c.name]) if c.name in DOCKER_SAYS else c
         for c in CASES]


# ---------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------

def _mounts_under(path: Path) -> list[str]:
    return [line for line in Path("/proc/self/mounts").read_text().splitlines()
            if str(path) in line.split()[1]]


@pytest.fixture(scope="module")
def parity_hull(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HullCLI]:
    """hull on a root of this module's (the `hull` fixture is per test; these cases
    share one root, as they share one dockerd)."""
    tmp = tmp_path_factory.mktemp("parity-hull")
    parent = f"/hull-test/parity-{os.getpid()}"
    h = HullCLI(tmp / "root", env={**os.environ, "HULL_CGROUP_PARENT": parent})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HULL_BIN, "--root", str(h.root), *args], env=h.env,
                              capture_output=True, text=True, timeout=300)
    run("image", "bootstrap").check_returncode()
    yield h
    ids = {p.name for p in (h.root / "containers").iterdir()} \
        if (h.root / "containers").is_dir() else set()
    if ids:
        run("rm", "-fv", *ids)
    vols = run("volume", "ls", "-q").stdout.split()
    if vols:
        run("volume", "rm", "-f", *vols)
    leaked = _mounts_under(tmp)
    if leaked:   # hull could not remove its containers: stop them by their cgroup
        _kill_cgroup(parent)
        for target in sorted((m.split()[1] for m in leaked), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    for base in Path("/sys/fs/cgroup").iterdir():
        _remove_cgroup_tree(base / parent.lstrip("/"))
    assert not leaked, leaked


def _kill_cgroup(parent: str) -> None:
    """SIGKILL every process in the cgroups under `parent` (this module's containers)."""
    import signal
    import time
    base = Path("/sys/fs/cgroup/pids") / parent.lstrip("/")
    for _ in range(50):
        pids = {int(x) for f in base.rglob("cgroup.procs") for x in f.read_text().split()} \
            if base.is_dir() else set()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


@pytest.fixture(scope="module")
def runner(docker: Docker, parity_hull: HullCLI,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    area = tmp_path_factory.mktemp("parity")
    hull_cli = f"{HULL_BIN} --root {parity_hull.root}"
    docker_cli = " ".join(docker.command())
    images = area / "images.tar"
    dside = Side("docker", docker_cli, area / "docker", {str(docker.dir / "data"): "<ROOT>"},
                 f"$D load -i {images}")
    hside = Side("hull", hull_cli, area / "hull", {str(parity_hull.root): "<ROOT>"},
                 f"$D load -i {images}", env=dict(parity_hull.env or os.environ))
    before = state(dside)
    if before["containers"] or before["volumes"]:
        pytest.fail("the session's dockerd already has containers or volumes; "
                    "run this module first or alone")
    # the same images on both sides, with the same IDs
    subprocess.run(f"{hull_cli} save busybox:latest | {docker_cli} load && "
                   f"{docker_cli} save busybox:hull | {hull_cli} load && "
                   f"{docker_cli} save -o {images} busybox:latest busybox:hull",
                   shell=True, check=True, capture_output=True, env=hside.env)
    out = docker("image", "inspect", "-f", "{{.Id}} {{range .RootFS.Layers}}{{.}} {{end}}",
                 "busybox:latest", "busybox:hull").stdout
    ids = {x.removeprefix("sha256:") for x in out.split()}
    keep = frozenset(ids | {x[:12] for x in ids})
    for side in (dside, hside):
        subprocess.run(f"{side.cli} {SHARED_RUN}", shell=True, check=True,
                       capture_output=True, env=side.env)
    r = Runner(dside, hside, keep)
    try:
        yield r
    finally:
        r.close()
        sweep(dside, before, state(dside))
        sweep(hside, {"containers": set(), "volumes": set(), "images": set()},
              state(hside))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli(case: Case, runner: Runner) -> None:
    d, h = runner.run(case)
    diffs = compare(case, d, h)
    dump = os.environ.get("HULL_PARITY_DUMP")
    if dump:
        with open(dump, "a") as f:
            f.write(json.dumps({"case": case.name, "cmd": case.cmd, "diffs": diffs,
                                "docker": d, "hull": h}) + "\n")
    if diffs:
        detail = "\n".join(f"  {side} stderr: {str(v['err'])[:300]!r}\n  {side} setup/cleanup: "
                           f"{str(v['log'])[-300:]!r}" for side, v in (("docker", d), ("hull", h)))
        pytest.fail(f"{case.cmd}\n" + "\n".join(diffs) + "\n" + detail, pytrace=False)


def test_cases_are_unique() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert set(DOCKER_SAYS) <= set(names)
