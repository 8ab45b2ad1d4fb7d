#!/usr/bin/env python3
"""Plots of the side-by-side benchmarks, PNG through gnuplot.

    scripts/plot-bench.py [BENCH_DIR [MEMIF_DIR]]    (build/bench, build/bench-memif)

From what scripts/bench-veth.sh and scripts/bench-memif.sh leave behind it
draws, one line (or point set) per server:
  rate-veth.png      answered vs offered rate of every --find-max step
                     (linetime on af_xdp, chronyd -x), with the ideal y = x;
  rate-memif.png     answered (received) vs offered rate per 100 ms slice
                     (linetime, testpmd macswap);
  cdf-residence.png  server residence (T3 - T2) CDF at 10 % and 80 % load;
  cdf-delay.png      round-trip delay CDF, same steps;
  cdf-offset.png     CDF of the server's offset measured by the clients.
The CDFs are drawn through the percentiles the generator reports for a step
(min, p1, p10, p50, p90, p99, p99.9, max), per round. The data behind each
plot is written next to it (BENCH_DIR/plot/*.dat). A missing input only
leaves its plot out.
"""
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys

SERVERS_VETH = ("linetime", "chronyd")
SERVERS_MEMIF = ("linetime", "testpmd")
QUANTILES = (("min", 0.0), ("p1", 0.01), ("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99),
             ("p999", 0.999), ("max", 1.0))
LOADS = ("10%", "80%")


def round_of(path):
    m = re.search(r"-r?(\d+)(?:-[a-z]+)?\.(?:json|csv)$", path)
    return int(m.group(1)) if m else 0


def write_dat(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(" ".join(f"{x:.6g}" for x in row) + "\n")


def veth_rates(bench, plot):
    """Data files of answered vs offered rate per veth server; [(title, file)]."""
    series = []
    for s in SERVERS_VETH:
        rows = []
        for f in sorted(glob.glob(os.path.join(bench, f"veth-{s}-r*-findmax.json")), key=round_of):
            for st in json.load(open(f))["steps"]:
                rows.append((st["offered_rate"] / 1e6, st["answered_rate"] / 1e6))
        if rows:
            dat = os.path.join(plot, f"rate-veth-{s}.dat")
            write_dat(dat, sorted(rows))
            series.append((s, dat))
    return series


def memif_rates(memif, plot):
    series = []
    for s in SERVERS_MEMIF:
        rows = []
        for f in sorted(glob.glob(os.path.join(memif, f"{s}-*.csv")), key=round_of):
            with open(f) as fh:
                slices = list(csv.DictReader(fh))
            prev = 0.0
            for r in slices[2:]:  # the first 200 ms ramp up
                t = float(r["t_s"])
                width = t - prev if prev else 0.1
                prev = t
                if width <= 0:
                    continue
                rows.append((int(r["sent"]) / width / 1e6, int(r["received"]) / width / 1e6))
        if rows:
            dat = os.path.join(plot, f"rate-memif-{s}.dat")
            write_dat(dat, rows)
            series.append((s, dat))
    return series


def veth_cdfs(bench, plot, key):
    """One CDF per server, load and round through the step's percentiles (us)."""
    series = []
    for s in SERVERS_VETH:
        for f in sorted(glob.glob(os.path.join(bench, f"veth-{s}-r*-quality.json")), key=round_of):
            steps = json.load(open(f))["steps"]
            for i, load in enumerate(LOADS):
                if i >= len(steps) or steps[i][key]["count"] == 0:
                    continue
                q = steps[i][key]
                rows = [(q[name] / 1e3, p) for name, p in QUANTILES]
                dat = os.path.join(plot, f"cdf-{key}-{s}-{load[:-1]}-r{round_of(f)}.dat")
                write_dat(dat, rows)
                series.append((f"{s} {load} r{round_of(f)}", dat))
    return series


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    bench = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    memif = sys.argv[2] if len(sys.argv) > 2 else os.path.join(bench, "memif")
    if not os.path.isdir(memif):
        memif = "build/bench-memif"
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        sys.exit("plot-bench: gnuplot is not installed; run scripts/setup.sh as root (it installs gnuplot-nox)")
    plot = os.path.join(bench, "plot")
    os.makedirs(plot, exist_ok=True)

    script = ["set terminal pngcairo size 1000,650 noenhanced font ',10'", "set grid", "set key left top"]
    made = []

    def rate_plot(name, title, series, xlabel, ylabel):
        if not series:
            return
        png = os.path.join(bench, name)
        script.extend([f"set output {quote(png)}", f"set title {quote(title)}", "unset logscale",
                       f"set xlabel {quote(xlabel)}", f"set ylabel {quote(ylabel)}", "set xrange [0:*]",
                       "set yrange [0:*]"])
        parts = [f"{quote(dat)} using 1:2 with points pointsize 1.2 title {quote(t)}" for t, dat in series]
        parts.append("x with lines dashtype 2 linecolor 'gray' title 'answered = offered'")
        script.append("plot " + ", ".join(parts))
        made.append(png)

    def cdf_plot(name, title, series, xlabel, logx):
        if not series:
            return
        png = os.path.join(bench, name)
        script.extend([f"set output {quote(png)}", f"set title {quote(title)}", "unset logscale",
                       "set logscale x" if logx else "", f"set xlabel {quote(xlabel)}",
                       "set ylabel 'share of answers'", "set xrange [*:*]", "set yrange [0:1]"])
        colours = {"linetime": 1, "chronyd": 2}
        parts = []
        for t, dat in series:
            server, load = t.split()[:2]
            dash = 1 if load == "10%" else 2
            parts.append(f"{quote(dat)} using 1:2 with linespoints linetype {colours.get(server, 3)} "
                         f"dashtype {dash} title {quote(t)}")
        script.append("plot " + ", ".join(parts))
        made.append(png)

    rate_plot("rate-veth.png", "veth: answered vs offered rate (--find-max steps)", veth_rates(bench, plot),
              "offered, M requests/s", "answered, M/s")
    rate_plot("rate-memif.png", "net_memif: received vs offered rate per 100 ms slice", memif_rates(memif, plot),
              "offered, M requests/s", "received, M/s")
    cdf_plot("cdf-residence.png", "veth: server residence T3 - T2", veth_cdfs(bench, plot, "residence_ns"),
             "residence, us", True)
    cdf_plot("cdf-delay.png", "veth: round-trip delay", veth_cdfs(bench, plot, "delay_ns"), "delay, us", True)
    cdf_plot("cdf-offset.png", "veth: server offset measured by the clients", veth_cdfs(bench, plot, "offset_ns"),
             "offset, us", False)
    if not made:
        sys.exit(f"plot-bench: nothing to plot in {bench} or {memif}; run scripts/bench-veth.sh or scripts/bench.sh first")
    gp = os.path.join(plot, "bench.gp")
    with open(gp, "w") as f:
        f.write("\n".join(line for line in script if line) + "\n")
    r = subprocess.run([gnuplot, gp], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit(f"plot-bench: gnuplot failed on {gp}:\n{r.stderr}")
    for png in made:
        print(f"plot: {png}")


if __name__ == "__main__":
    main()
