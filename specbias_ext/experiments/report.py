"""summary.md and a self-contained report.html (figures embedded as base64 PNG): the claims
table first, then one section per experiment (settings, figures, timings), then the environment."""
from __future__ import annotations

import base64
import html
import json
import os

from ..results import atomic_write_bytes


def _fmt(s: dict) -> str:
    if s.get("n", 0) == 0:
        return "n/a"
    return f"{s['mean']:.4g} ± {s['std']:.2g} (n={s['n']})"


def _claim_rows(claims: dict):
    for c in claims["claims"]:
        measured = "; ".join(f"{k}: {_fmt(v)}" for k, v in c["measured"].items())
        yield c, measured


def summary_markdown(results, claims: dict, env: dict) -> str:
    lines = ["# specbias reproduce: summary", "",
             f"Preset `{claims['preset']}` on `{claims['device']}`; "
             f"{claims['held']}/{claims['total']} claims held; total {claims['total_s']:.1f} s.", "",
             "## Claims", "", "| experiment | claim | check | measured (mean ± sd over seeds) | held |",
             "|---|---|---|---|---|"]
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731  (pipes inside a cell)
    for c, measured in _claim_rows(claims):
        lines.append(f"| {c['experiment']} | {cell(c['statement'])} | {cell(c['expected'])} | "
                     f"{cell(measured)} | {'yes' if c['held'] else '**no**'} |")
    for r in results:
        lines += ["", f"## {r.name}: {r.title}", "", r.summary, "",
                  "Timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items()), "",
                  "```json", json.dumps(r.settings, indent=1), "```", ""]
        lines += [f"![{os.path.basename(p)}]({os.path.relpath(p, start=_out(r, p))})"
                  for p in r.figures]
    lines += ["", "## Environment", "", "```json", json.dumps(env, indent=1, default=str), "```", ""]
    return "\n".join(lines)


def _out(result, path):
    # figures live in <out>/<experiment>/figures/; summary.md lives in <out>.
    return os.path.dirname(os.path.dirname(os.path.dirname(path)))


def _img(path: str) -> str:
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    return f'<img alt="{html.escape(os.path.basename(path))}" src="data:image/png;base64,{data}">'


def report_html(results, claims: dict, env: dict) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class='{'held' if c['held'] else 'miss'}'><td>{e(c['experiment'])}</td>"
        f"<td>{e(c['statement'])}</td><td>{e(c['expected'])}</td><td>{e(m)}</td>"
        f"<td>{'yes' if c['held'] else 'NO'}</td></tr>" for c, m in _claim_rows(claims))
    sections = []
    for r in results:
        figs = "".join(_img(p) for p in r.figures)
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items())
        sections.append(
            f"<section id='{e(r.name)}'><h2>{e(r.name)}: {e(r.title)}</h2><p>{e(r.summary)}</p>"
            f"<p>Timings: {e(timings)}</p><details><summary>settings</summary><pre>"
            f"{e(json.dumps(r.settings, indent=1))}</pre></details>{figs}</section>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:"
             "collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "tr.miss td{background:#fde2e2}tr.held td{background:#e6f4e6}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>specbias reproduce</title>"
            f"<style>{style}</style></head><body><h1>specbias reproduce</h1>"
            f"<p>Preset {e(claims['preset'])} on {e(claims['device'])}: {claims['held']}/"
            f"{claims['total']} claims held; total {claims['total_s']:.1f} s.</p>"
            f"<h2>Claims</h2><table><tr><th>experiment</th><th>paper</th><th>check</th>"
            f"<th>measured (mean ± sd over seeds)</th><th>held</th></tr>{rows}</table>"
            + "".join(sections) +
            f"<h2>Environment</h2><pre>{e(json.dumps(env, indent=1, default=str))}</pre>"
            "</body></html>")


def write_report(out: str, results, claims: dict, env: dict) -> None:
    atomic_write_bytes(os.path.join(out, "summary.md"),
                             summary_markdown(results, claims, env).encode())
    atomic_write_bytes(os.path.join(out, "report.html"),
                             report_html(results, claims, env).encode())
