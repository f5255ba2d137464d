"""Renders deploy/grafana/vastgate.json from a real Prometheus into a PNG, panel by panel at
the dashboard's grid positions: each panel's PromQL runs through Prometheus's query_range API
the way Grafana would run it. For the README's picture where Grafana itself cannot run (it is
in none of the package registries reachable here); deploy/grafana/render-demo.sh feeds it.

usage: python render.py --prometheus http://127.0.0.1:9091 --out docs/dashboard.png [--minutes 10]
needs: matplotlib
"""

import argparse
import json
import os
import re
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"


def query_range(prometheus, expr, start, end, step):
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{params}", timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def legend(template, labels):
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template) or str(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--dashboard", default=os.path.join(HERE, "vastgate.json"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()

    dashboard = json.load(open(args.dashboard))
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    unit_height = 0.32
    figure = plt.figure(figsize=(24 * 0.75, (rows + 1) * unit_height), facecolor=BACKGROUND)
    end = time.time()
    start = end - args.minutes * 60
    step = max(5, int(args.minutes * 60 / 120))
    figure.suptitle(f"{dashboard['title']} — last {args.minutes:g} minutes (rendered from Prometheus)",
                    color=TEXT, fontsize=14, x=0.01, ha="left", y=0.995)

    def place(grid):
        left = grid["x"] / 24 + 0.004
        width = grid["w"] / 24 - 0.012
        # One grid unit of headroom above the first row for the title.
        top = 1 - (grid["y"] + 1.9) / (rows + 2)
        height = grid["h"] / (rows + 2) - 0.028
        return [left, top - height, width, height]

    for panel in panels:
        grid = panel["gridPos"]
        if panel["type"] == "row":
            figure.text(grid["x"] / 24 + 0.004, 1 - (grid["y"] + 1.75) / (rows + 2), panel["title"],
                        color=TEXT, fontsize=12, weight="bold")
            continue
        axes = figure.add_axes(place(grid), facecolor=PANEL)
        axes.set_title(panel["title"], color=TEXT, fontsize=9, loc="left")
        axes.tick_params(colors=TEXT, labelsize=6)
        for spine in axes.spines.values():
            spine.set_color(GRID)
        axes.grid(color=GRID, linewidth=0.5)
        drawn = 0
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m").replace('"$job"', '".*"')
            for series in query_range(args.prometheus, expr, start, end, step):
                points = [(float(t) - end, float(v)) for t, v in series["values"] if v not in ("NaN", "+Inf", "-Inf")]
                if not points:
                    continue
                xs, ys = zip(*points)
                axes.plot([x / 60 for x in xs], ys, linewidth=1.2,
                          label=legend(target.get("legendFormat", ""), series["metric"])[:40])
                drawn += 1
        if drawn:
            axes.legend(fontsize=5, loc="upper left", facecolor=PANEL, edgecolor=GRID, labelcolor=TEXT,
                        ncol=2 if drawn > 4 else 1)
        else:
            axes.text(0.5, 0.5, "no data", color=TEXT, ha="center", va="center", transform=axes.transAxes)
        axes.set_xlim(-args.minutes, 0)
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        if unit and unit != "short":
            axes.set_ylabel(unit, color=TEXT, fontsize=6)
    figure.savefig(args.out, dpi=80, facecolor=BACKGROUND)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
