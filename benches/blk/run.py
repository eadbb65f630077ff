#!/usr/bin/env python3
"""benches/blk: 4 KiB random read and write through the whole virtio-blk path, next to fio.

For each round, on the same file:
  - fio --ioengine=io_uring on the host: the ceiling;
  - ember, default io_uring engine: the blk-bench guest (benches/blk/blk-bench-guest.c) drives
    the disk from CPL3 with a polled virtio-blk driver and times each request itself;
  - the same with the queue thread's busy-polling on (--disk ...,poll_us=50);
  - ember --io-engine sync: the baseline (preadv/pwritev on the device thread).
Each at queue depth 1 and 32, randread and randwrite. Rounds are interleaved and the median of
each figure is reported, because a shared 2-core host is noisy.

  benches/blk/run.py --build BUILD_DIR [--file F] [--size 1G] [--rounds 3] [--requests 20000]
                     [--runtime 5] [--buffered] [--realtime] [--markdown docs/performance.md]

Exit status 0; 1 if a run failed. With --check, also 1 when the acceptance ratios are not met
(QD32 randread: ember io_uring >= 80% of fio and >= 2x ember sync).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

OPS = ("randread", "randwrite")
DEPTHS = (1, 32)
SYSTEMS = ("fio", "io_uring", "io_uring+poll", "sync")
POLL_US = 50  # --disk ...,poll_us= for the io_uring+poll runs
LINE = re.compile(r"BLK-BENCH op=(\w+) qd=(\d+) n=(\d+) iops=(\d+) p50_ns=(\d+) p99_ns=(\d+)"
                  r" mean_ns=(\d+) errors=(\d+)")


def log(msg):
    print(f"blk-bench: {msg}", file=sys.stderr, flush=True)


def prepare_file(path, size):
    """A fully allocated file of random data, so reads reach the disk's real blocks."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    log(f"writing {size >> 20} MiB of random data to {path}")
    with open("/dev/urandom", "rb") as src, open(path, "wb") as dst:
        left = size
        while left:
            chunk = src.read(min(left, 1 << 20))
            dst.write(chunk)
            left -= len(chunk)
        dst.flush()
        os.fsync(dst.fileno())


# --realtime: every measured process runs under SCHED_FIFO (chrt), so that other work on a shared
# host cannot take its CPU: an approximation of a quiet host (the kernel's RT throttling still
# leaves other tasks 5% of each CPU). Needs root.
PREFIX = []


def run_fio(path, op, qd, runtime, direct):
    cmd = PREFIX + ["fio", "--name=blk", f"--filename={path}", "--ioengine=io_uring",
           f"--direct={1 if direct else 0}", f"--rw={op}", "--bs=4k", f"--iodepth={qd}",
           f"--runtime={runtime}", "--time_based", "--norandommap", "--randrepeat=0",
           "--lat_percentiles=1", "--output-format=json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    job = json.loads(out)["jobs"][0]["read" if op == "randread" else "write"]
    pct = job["lat_ns"]["percentile"]
    return {"iops": job["iops"], "p50": pct["50.000000"], "p99": pct["99.000000"]}


def run_ember(ember, guest, path, system, requests, direct):
    disk = f"path={path}" + (",direct=on" if direct else "")
    if system.endswith("+poll"):
        disk += f",poll_us={POLL_US}"
    engine = system.split("+")[0]
    cmd = PREFIX + [ember, "run", "--kernel", guest, "--memory", "256M", "--disk", disk,
           "--io-engine", engine, "--cmdline", f"n={requests} warmup=1000"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    results = {}
    for m in LINE.finditer(proc.stdout):
        op, qd, _, iops, p50, p99, _, errors = m.groups()
        if int(errors):
            raise RuntimeError(f"ember {engine}: {errors} requests failed")
        results[(op, int(qd))] = {"iops": float(iops), "p50": float(p50), "p99": float(p99)}
    if proc.returncode != 0 or len(results) != len(OPS) * len(DEPTHS):
        raise RuntimeError(f"ember {engine} exited {proc.returncode}: "
                           f"{proc.stdout[-500:]} {proc.stderr[-500:]}")
    return results, cmd


def median_table(samples):
    table = {}
    for key, runs in samples.items():
        table[key] = {f: statistics.median(r[f] for r in runs) for f in ("iops", "p50", "p99")}
    return table


def us(ns):
    return f"{ns / 1000:.1f}"


def markdown(table, args, commands, host, elapsed):
    rows = []
    for op in OPS:
        for qd in DEPTHS:
            fio = table[("fio", op, qd)]
            for system in SYSTEMS:
                t = table[(system, op, qd)]
                name = {"fio": "host fio (io_uring)", "io_uring": "ember io_uring",
                        "io_uring+poll": "ember io_uring, polling",
                        "sync": "ember sync"}[system]
                ratio = t["iops"] / fio["iops"] if fio["iops"] else 0
                lat = t["p50"] / fio["p50"] if fio["p50"] else 0
                rows.append(f"| {op} | {qd} | {name} | {t['iops']:.0f} | {ratio:.0%} | "
                            f"{us(t['p50'])} | {us(t['p99'])} | {lat:.2f}x |")
    read32 = {s: table[(s, "randread", 32)]["iops"] for s in SYSTEMS}
    read1 = {s: table[(s, "randread", 1)]["p50"] for s in SYSTEMS}
    mode = "buffered (page cache)" if args.buffered else "O_DIRECT (`direct=on`, fio `--direct=1`)"
    rt = "; every process under SCHED_FIFO (`--realtime`)" if args.realtime else ""
    return "\n".join([
        "| workload | QD | system | IOPS | IOPS vs fio | p50 µs | p99 µs | p50 vs fio |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- QD32 randread: ember io_uring = **{read32['io_uring'] / read32['fio']:.0%}** of host "
        f"fio, **{read32['io_uring'] / read32['sync']:.1f}x** ember sync.",
        f"- QD1 randread p50 latency: ember io_uring **{read1['io_uring'] / read1['fio']:.2f}x** "
        f"host fio; with polling {read1['io_uring+poll'] / read1['fio']:.2f}x; ember sync "
        f"{read1['sync'] / read1['fio']:.2f}x.",
        f"- Polling (`--disk ...,poll_us={POLL_US}`, off by default): QD32 randread "
        f"{read32['io_uring+poll'] / read32['fio']:.0%} of host fio.",
        f"- I/O mode: {mode}{rt}; file {args.file}, {args.size >> 20} MiB of random data; "
        f"{args.rounds} interleaved rounds, medians; fio {args.runtime} s per job, ember "
        f"{args.requests} measured requests per job (after 1000 warm-up).",
        f"- Host: {host}, {os.getloadavg()[0]:.1f} at the end; the run took {elapsed:.0f} s.",
        "",
        "Commands (one round):",
        "",
        "```sh",
        *commands,
        "```",
    ])


def host_description():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ncpu = os.cpu_count()
    kernel = os.uname().release
    load = os.getloadavg()[0]
    return f"{cpu}, {ncpu} CPUs, Linux {kernel}, load average {load:.1f} at the start"


def write_markdown(path, section):
    begin, end = "<!-- blk-bench:begin -->", "<!-- blk-bench:end -->"
    text = open(path).read() if os.path.exists(path) else ""
    block = f"{begin}\n{section}\n{end}"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text += ("\n" if text else "") + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="meson build directory with ember")
    ap.add_argument("--file", default="/var/tmp/ember-blk-bench.img")
    ap.add_argument("--size", type=lambda s: int(s.rstrip("Gg")) << 30, default=1 << 30,
                    help="file size in GiB (default 1G)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--runtime", type=int, default=5, help="seconds per fio job")
    ap.add_argument("--buffered", action="store_true", help="page cache instead of O_DIRECT")
    ap.add_argument("--markdown", help="write the table into this file (between markers)")
    ap.add_argument("--check", action="store_true", help="fail if the acceptance ratios miss")
    ap.add_argument("--realtime", action="store_true",
                    help="run fio and ember under SCHED_FIFO (chrt -f 10) to shield them from "
                         "other load on a shared host (root)")
    args = ap.parse_args()
    if args.realtime:
        PREFIX.extend(["chrt", "-f", "10"])

    ember = os.path.join(args.build, "ember")
    guest = os.path.join(args.build, "guest-images/test-guests/blk-bench.elf")
    for f in (ember, guest):
        if not os.path.exists(f):
            sys.exit(f"blk-bench: {f} is missing (meson compile -C {args.build})")
    direct = not args.buffered
    prepare_file(args.file, args.size)
    host = host_description()
    started = time.time()
    samples = {}
    commands = []
    for rnd in range(args.rounds):
        log(f"round {rnd + 1}/{args.rounds}")
        for system in SYSTEMS:
            if system == "fio":
                for op in OPS:
                    for qd in DEPTHS:
                        r = run_fio(args.file, op, qd, args.runtime, direct)
                        samples.setdefault(("fio", op, qd), []).append(r)
                        if rnd == 0:
                            commands.append(
                                " ".join(PREFIX + ["fio"]) +
                                f" --name=blk --filename={args.file} --ioengine=io_uring "
                                f"--direct={int(direct)} --rw={op} --bs=4k --iodepth={qd} "
                                f"--runtime={args.runtime} --time_based --norandommap "
                                f"--randrepeat=0 --lat_percentiles=1")
            else:
                results, cmd = run_ember(ember, guest, args.file, system, args.requests, direct)
                for (op, qd), r in results.items():
                    samples.setdefault((system, op, qd), []).append(r)
                if rnd == 0:
                    commands.append(" ".join(f"'{c}'" if " " in c else c for c in cmd))
    table = median_table(samples)
    section = markdown(table, args, commands, host, time.time() - started)
    print(section)
    if args.markdown:
        write_markdown(args.markdown, section)
        log(f"wrote {args.markdown}")
    read32 = {s: table[(s, "randread", 32)]["iops"] for s in SYSTEMS}
    ok = read32["io_uring"] >= 0.8 * read32["fio"] and read32["io_uring"] >= 2 * read32["sync"]
    if args.check and not ok:
        log("acceptance missed: QD32 randread needs >= 80% of fio and >= 2x sync")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
