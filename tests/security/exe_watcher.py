"""Run inside a container (the host's python3, /usr mounted read-only): watch for new
processes and try what CVE-2019-5736 does — open /proc/PID/exe (to overwrite the binary
later), /proc/PID/mem and /proc/PID/fd — logging each result to the file in argv[1].
"OPENED program" is harmless (the container's own program after exec); "OPENED runtime"
means a process still running hull-runtime's interpreter (the host's python3, the same
file the container sees through its read-only /usr) could be reached."""

import os
import sys

me = os.getpid()
runtime = os.stat("/usr/bin/python3")
opened, denied = set(), set()


def attempt(pid):
    try:
        fd = os.open(f"/proc/{pid}/exe", os.O_RDONLY)
    except OSError as e:
        return f"DENIED {pid} exe {e.errno}"
    st = os.fstat(fd)
    os.close(fd)
    what = "runtime" if (st.st_dev, st.st_ino) == (runtime.st_dev, runtime.st_ino) else \
        "program"
    for extra in ("mem", "fd"):
        try:
            if extra == "fd":
                os.listdir(f"/proc/{pid}/fd")
            else:
                os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY))
        except OSError:
            continue
        what += f" {extra}"
    return f"OPENED {pid} {what}"


def watch(log):
    while True:   # a refused PID is tried again until it has exec'd or is gone
        for name in os.listdir("/proc"):
            if name.isdigit() and name not in opened and int(name) != me:
                result = attempt(name)
                if result.startswith("OPENED"):
                    opened.add(name)
                    log.write(result + "\n")
                elif "exe 2" not in result and name not in denied:   # 2 (ENOENT): gone
                    denied.add(name)
                    log.write(result + "\n")


with open(sys.argv[1], "w", buffering=1) as out:
    watch(out)
