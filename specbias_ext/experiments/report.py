"""summary.md and a self-contained report.html (figures embedded as base64 PNG).

The report cites itself (package version, git commit when available, the exact command line,
date, device, torch), has a table of contents, a claims table (each claim with the paper section
it comes from, the check, the measurements, its effect with the 95% interval over seeds and the
verdict), one section per experiment with every figure captioned (what it shows, on which grid) and
linked to its PNG/PDF, the animations embedded as GIFs, and the environment.
"""
from __future__ import annotations

import base64
import html
import json
import os

from ..runs.files import atomic_write_bytes
from ..runs.provenance import provenance
from .claims import RULE

WIRING = ("Preset smoke is a wiring test: tiny networks trained for a few epochs, run so that "
          "the tests exercise every experiment end to end. Its claims are not expected to hold.")


def _produced_by(claims: dict) -> dict:
    """What produced this report: its provenance on the claims' device, and their preset."""
    return {**provenance(device=claims.get("device")), "preset": claims.get("preset")}


def _fmt(s: dict) -> str:
    if s.get("n", 0) == 0:
        return "n/a"
    if "display" in s:          # region counts: per-seed values, ">= " marks a saturated count
        return f"{', '.join(s['display'])} of {s['points']} points (n={s['n']})"
    return f"{s['mean']:.4g} ± {s['std']:.2g} (n={s['n']})"


def _effect(c: dict) -> str:
    e = c.get("effect") or {}
    if not e:
        return "n/a"
    unit = "×" if e["kind"] == "ratio" else ""
    est = f"{e['estimate']:.4g}{unit}"
    if e.get("low") is None or e.get("high") is None:
        return f"{est} (no interval, n={e['n']})"
    return f"{est} [{e['low']:.4g}, {e['high']:.4g}] ({e['kind']}, n={e['n']})"


def _rows(claims: dict):
    for c in claims["claims"]:
        measured = "; ".join(f"{k}: {_fmt(v)}" for k, v in c["measured"].items())
        yield c, measured, _effect(c)


def _counts(claims: dict) -> str:
    return (f"{claims['held']} held, {claims.get('not_held', 0)} not held, "
            f"{claims.get('inconclusive', 0)} inconclusive of {claims['total']} claims")


def _rel(out: str, path: str) -> str:
    return os.path.relpath(path, start=out)


def summary_markdown(results, claims: dict, env: dict, out: str) -> str:
    prov = _produced_by(claims)
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731  (pipes inside a cell)
    lines = ["# specbias reproduce: summary", ""]
    if claims["preset"] == "smoke":
        lines += [f"**{WIRING}**", ""]
    lines += [f"Preset `{claims['preset']}` on `{claims['device']}`: {_counts(claims)}; "
              f"total {claims['total_s']:.1f} s. Claims as JSON: [claims.json](claims.json).", "",
              "Produced by:", ""]
    lines += [f"- {k}: `{v}`" for k, v in prov.items()]
    lines += ["", "## Contents", "", "- [Claims](#claims)"]
    lines += [f"- [{r.name}: {r.title}](#{r.name})" for r in results]
    lines += ["- [Environment](#environment)", "", "## Claims", "", f"Rule: {RULE}", "",
              "| experiment | claim (paper) | check | measured (mean ± sd over seeds) | "
              "effect [95% interval] | verdict |", "|---|---|---|---|---|---|"]
    for c, measured, effect in _rows(claims):
        verdict = c["verdict"] if c["verdict"] == "held" else f"**{c['verdict']}**"
        lines.append(f"| {c['experiment']} | {cell(c['statement'])} ({cell(c['source'])}) | "
                     f"{cell(c['expected'])} | {cell(measured)} | {cell(effect)} | {verdict} |")
    for r in results:
        lines += ["", f"<a id='{r.name}'></a>", f"## {r.name}: {r.title}", "", r.summary, "",
                  "Timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items()), "",
                  "```json", json.dumps(r.settings, indent=1, default=str), "```", ""]
        for n, p in enumerate(r.figures, 1):
            rel = _rel(out, p)
            lines += [f"![{os.path.basename(p)}]({rel})", "",
                      f"*Figure {n}.* {cell(r.captions.get(p, ''))} "
                      f"[PNG]({rel}) · [PDF]({rel[:-4]}.pdf)", ""]
        for p in r.animations:
            rel = _rel(out, p)
            lines += [f"![{os.path.basename(p)}]({rel})", "",
                      f"*Animation.* {cell(r.captions.get(p, ''))} [GIF]({rel})", ""]
    lines += ["", "## Environment", "", "```json", json.dumps(env, indent=1, default=str), "```", ""]
    return "\n".join(lines)


def _img(path: str) -> str:
    kind = "gif" if path.endswith(".gif") else "png"
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    return (f'<img alt="{html.escape(os.path.basename(path))}" '
            f'src="data:image/{kind};base64,{data}">')


def _figures_html(r, out: str) -> str:
    """Each figure embedded with its caption (what it shows, from which grid) and links to its
    PNG/PDF; each animation embedded (GIF) with its caption and a link."""
    e = html.escape
    parts = []
    for n, p in enumerate(r.figures, 1):
        rel = e(_rel(out, p))
        parts.append(f"<figure>{_img(p)}<figcaption><b>Figure {n}.</b> "
                     f"{e(r.captions.get(p, ''))} <a href='{rel}'>PNG</a> · "
                     f"<a href='{rel[:-4]}.pdf'>PDF</a></figcaption></figure>")
    for p in r.animations:
        rel = e(_rel(out, p))
        parts.append(f"<figure>{_img(p)}<figcaption><b>Animation.</b> "
                     f"{e(r.captions.get(p, ''))} <a href='{rel}'>GIF</a></figcaption></figure>")
    return "".join(parts)


def report_html(results, claims: dict, env: dict, out: str) -> str:
    e = html.escape
    prov = _produced_by(claims)
    cls = {"held": "held", "not held": "miss", "inconclusive": "open"}
    rows = "".join(
        f"<tr class='{cls[c['verdict']]}'><td>{e(c['experiment'])}</td>"
        f"<td>{e(c['statement'])}<br><small>{e(c['source'])}</small></td>"
        f"<td>{e(c['expected'])}</td><td>{e(m)}</td><td>{e(eff)}</td>"
        f"<td title='{e(c['reason'])}'>{e(c['verdict'])}</td></tr>"
        for c, m, eff in _rows(claims))
    sections = []
    for r in results:
        figs = _figures_html(r, out)
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items())
        sections.append(
            f"<section id='{e(r.name)}'><h2>{e(r.name)}: {e(r.title)}</h2><p>{e(r.summary)}</p>"
            f"<p>Timings: {e(timings)}</p><details><summary>settings</summary><pre>"
            f"{e(json.dumps(r.settings, indent=1, default=str))}</pre></details>{figs}</section>")
    toc = ("<ul><li><a href='#claims'>Claims</a></li>"
           + "".join(f"<li><a href='#{e(r.name)}'>{e(r.name)}: {e(r.title)}</a></li>"
                     for r in results)
           + "<li><a href='#environment'>Environment</a></li></ul>")
    prov_html = "<ul>" + "".join(f"<li>{e(k)}: <code>{e(str(v))}</code></li>"
                                 for k, v in prov.items()) + "</ul>"
    wiring = f"<p class='wiring'><b>{e(WIRING)}</b></p>" if claims["preset"] == "smoke" else ""
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:"
             "collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "tr.miss td{background:#fde2e2}tr.held td{background:#e6f4e6}"
             "tr.open td{background:#fff6d5}img{max-width:100%}.wiring{color:#a40}"
             "figcaption{font-size:13px;color:#333;max-width:900px}figure{margin:1em 0}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>specbias reproduce</title>"
            f"<style>{style}</style></head><body><h1>specbias reproduce</h1>{wiring}"
            f"<p>Preset {e(claims['preset'])} on {e(claims['device'])}: {e(_counts(claims))}; "
            f"total {claims['total_s']:.1f} s. Claims as JSON: "
            f"<a href='claims.json'>claims.json</a>.</p><h2>Produced by</h2>{prov_html}"
            f"<h2>Contents</h2>{toc}"
            f"<h2 id='claims'>Claims</h2><p>Rule: {e(RULE)}</p><table><tr><th>experiment</th>"
            f"<th>claim (paper)</th><th>check</th><th>measured (mean ± sd over seeds)</th>"
            f"<th>effect [95% interval]</th><th>verdict</th></tr>{rows}</table>"
            + "".join(sections) +
            f"<h2 id='environment'>Environment</h2><pre>"
            f"{e(json.dumps(env, indent=1, default=str))}</pre></body></html>")


def write_report(out: str, results, claims: dict, env: dict) -> None:
    atomic_write_bytes(os.path.join(out, "summary.md"),
                       summary_markdown(results, claims, env, out).encode())
    atomic_write_bytes(os.path.join(out, "report.html"),
                       report_html(results, claims, env, out).encode())
