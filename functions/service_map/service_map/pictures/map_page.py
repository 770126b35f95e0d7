"""The service map as a self-contained HTML page: the SVG inline, then what to look at first."""

from __future__ import annotations

from typing import Any

from service_map.pictures.map_picture import map_svg
from service_map.pictures.text import duration_text, esc, percent_text

_STYLE = """
body { margin: 0; background: #fbfcfd; color: #16191f;
  font-family: 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif; }
.map { overflow: auto; }
section.details { display: flex; flex-wrap: wrap; gap: 32px; padding: 8px 24px 24px; }
section.details h2 { font-size: 14px; margin: 8px 0; }
section.details table { border-collapse: collapse; font-size: 12px; }
section.details td, section.details th { padding: 2px 10px 2px 0; text-align: left; }
section.details td.number { text-align: right; }
svg.focus .edge { opacity: 0.06; }
svg.focus .node { opacity: 0.35; }
svg.focus .lit { opacity: 1; }
"""

# Hovering a service lights up its calls and the services at their other ends.
_SCRIPT = """
(() => {
  const svg = document.querySelector('svg.service-map');
  const nodes = [...svg.querySelectorAll('.node')];
  const touching = nodes.map(() => []);
  for (const edge of svg.querySelectorAll('.edge')) {
    for (const end of edge.dataset.ends.split(' ')) touching[+end].push(edge);
  }
  const clear = () => {
    svg.classList.remove('focus');
    for (const lit of svg.querySelectorAll('.lit')) lit.classList.remove('lit');
  };
  svg.addEventListener('mouseover', (event) => {
    const node = event.target.closest('.node');
    if (!node) return;
    clear();
    svg.classList.add('focus');
    node.classList.add('lit');
    for (const edge of touching[+node.dataset.index]) {
      edge.classList.add('lit');
      for (const end of edge.dataset.ends.split(' ')) nodes[+end].classList.add('lit');
    }
  });
  svg.addEventListener('mouseout', (event) => { if (event.target.closest('.node')) clear(); });
})();
"""


def _table(title: str, header: list[str], rows: list[list[str]], css: str) -> str:
    if not rows:
        body = f'<tr><td colspan="{len(header)}">none</td></tr>'
    else:
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows
        )
    head = "".join(f"<th>{esc(cell)}</th>" for cell in header)
    return f'<div class="{css}"><h2>{esc(title)}</h2><table><tr>{head}</tr>{body}</table></div>'


def _details(summary: dict[str, Any]) -> str:
    top = summary.get("top") or {}
    slowest = [
        [
            f"{row.get('source')} → {row.get('target')}",
            duration_text(row.get("p99_ms")),
            str(row.get("requests")),
        ]
        for row in top.get("slowest_edges") or []
    ]
    failing = [
        [
            str(row.get("name")),
            str(row.get("type")),
            percent_text(row.get("fault_rate")),
            percent_text(row.get("error_rate")),
            percent_text(row.get("throttle_rate")),
            str(row.get("health")),
        ]
        for row in top.get("most_failing_nodes") or []
    ]
    changes = summary.get("changes") or {}
    changed = [
        [f"service {kind}", str(item)]
        for kind, key in (("added", "nodes_added"), ("gone", "nodes_gone"))
        for item in changes.get(key) or []
    ]
    changed += [
        [f"call {kind}", str(item)]
        for kind, key in (("added", "edges_added"), ("gone", "edges_gone"))
        for item in changes.get(key) or []
    ]
    for regression in changes.get("regressions") or []:
        metric = regression.get("metric")
        show = duration_text if metric == "p99_ms" else percent_text
        changed.append(
            [
                f"{regression.get('kind')} {metric} worse",
                f"{regression.get('id')}: {show(regression.get('before'))} → "
                f"{show(regression.get('after'))}",
            ]
        )
    return (
        '<section class="details">'
        + _table("Slowest calls (p99)", ["call", "p99", "requests"], slowest, "slowest")
        + _table(
            "Most failing services",
            ["service", "type", "fault", "error", "throttle", "health"],
            failing,
            "failing",
        )
        + _table("Changes since the previous window", ["change", "what"], changed, "changes")
        + "</section>"
    )


def map_html(summary: dict[str, Any]) -> str:
    """The service map as a self-contained HTML page (inline SVG; needs no network)."""
    window = summary.get("window") or {}
    title = f"Service map · {summary.get('group') or 'Default'} · {window.get('end', '')}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{_STYLE}</style></head>"
        f'<body><div class="map">{map_svg(summary)}</div>{_details(summary)}'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
