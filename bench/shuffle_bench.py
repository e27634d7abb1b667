#!/usr/bin/env python3
"""shuffle_bench.py - builds bench/shuffle_bench.c against build/'s static
libraries and runs it: shuffle throughput between a real executor and a map
task on loopback at zstd levels 0, 1 and 3, against raw ZeroMQ throughput of
the same messages (see the C file's header).  Prints the machine first.

    .venv/bin/python bench/shuffle_bench.py [--build build] [--mb 400] [--curve]

--curve runs both paths over ZeroMQ CURVE, as a cluster with --curve-keys
(docs/security.md gives the measured cost).
"""
import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBS = ["mr_executor", "mr_warehouse", "mr_dag", "mr_net", "mr_proto", "mr_core"]
SYSLIBS = ["-lzmq", "-lzstd", "-lprotobuf-c", "-lsqlite3", "-lpq", "-lyaml", "-lpcre2-8", "-lyajl",
           "-lutf8proc", "-lnettle", "-lm", "-lpthread"]


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--mb", default="400", help="logical megabytes per run")
    ap.add_argument("--levels", default="0,1,3")
    ap.add_argument("--curve", action="store_true", help="encrypt and authenticate with CURVE")
    a = ap.parse_args()
    build = Path(a.build)
    exe = build / "shuffle_bench"
    cmd = ["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", f"-I{ROOT}", f"-I{build / 'gen'}",
           str(ROOT / "bench" / "shuffle_bench.c"), "-o", str(exe),
           "-Wl,--start-group", *[str(build / f"lib{l}.a") for l in LIBS], "-Wl,--end-group",
           *SYSLIBS]
    subprocess.run(cmd, check=True)
    print(machine())
    sys.stdout.flush()
    subprocess.run([str(exe), *(["--curve"] if a.curve else []), str(build / "millrace-executor"),
                    a.mb, *a.levels.split(",")], check=True)


if __name__ == "__main__":
    main()
