"""Draw the edge map for operators: an SVG picture, or an HTML page with the picture, a legend and a table.

Layout: edge nodes on an inner ring, each with an arc of the outer ring for the devices attached to it,
so a node's devices sit next to it; node-to-node links are chords of the inner ring. Devices with no
node (pending) wait in a row below. Colours say status (ready, not ready, quarantined; placed, pending,
invalid) and line styles say link type. Plain SVG, no scripts: it opens in any browser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from edgewright.twins.edgemap import EDGE_DEVICE, EDGE_NODE, EdgeMap, Vertex

NODE_COLOURS = {"ready": "#2e7d32", "not-ready": "#9e9e9e", "quarantined": "#c62828"}
PHASE_COLOURS = {"Placed": "#1565c0", "Pending": "#ef6c00", "Invalid": "#c62828"}
LINK_STYLES = {
    "ethernet": {"stroke": "#37474f", "dash": "", "width": 2.5},
    "usb": {"stroke": "#6a1b9a", "dash": "", "width": 4},
    "wifi": {"stroke": "#0277bd", "dash": "2 5", "width": 2.5},
    "mesh": {"stroke": "#00897b", "dash": "9 5", "width": 2.5},
}
NODE_R, DEVICE_R, SLOT = 28, 13, 46
# Room between two neighbouring nodes on the inner ring, and between the rings.
NODE_GAP, RING_GAP, LEGEND_WIDTH = 96, 110, 170


@dataclass(frozen=True)
class Point:
    x: float
    y: float


def layout(edge_map: EdgeMap) -> tuple[dict[str, Point], float, float]:
    """Positions of every vertex, and the picture's width and height."""
    nodes = edge_map.of_type(EDGE_NODE)
    devices = edge_map.of_type(EDGE_DEVICE)
    attached: dict[str, list[Vertex]] = {n.name: [] for n in nodes}
    loose: list[Vertex] = []
    for device in devices:
        home = next((n for n in sorted(device.neighbors) if n in attached), None)
        (attached[home] if home else loose).append(device)
    # A node without devices still takes two slots, so its neighbours keep their distance.
    shares = {n.name: max(2, len(attached[n.name])) for n in nodes}
    slots = sum(shares.values())
    step = 2 * math.pi / max(1, slots)
    inner = NODE_GAP / (2 * math.sin(step)) if len(nodes) > 1 else 0.0
    outer = max(170.0, slots * SLOT / (2 * math.pi), inner + RING_GAP)
    margin = 90
    width = 2 * (outer + margin)
    rows = math.ceil(len(loose) / max(1, int((width - 2 * margin) // SLOT) + 1))
    height = width + (rows * SLOT + 40 if loose else 0)
    centre = Point(width / 2, width / 2)
    positions: dict[str, Point] = {}
    angle = -math.pi / 2
    for node in nodes:
        share = shares[node.name]
        middle = angle + step * (share - 1) / 2
        positions[node.name] = Point(centre.x + inner * math.cos(middle), centre.y + inner * math.sin(middle))
        first = middle - step * (len(attached[node.name]) - 1) / 2
        for i, device in enumerate(attached[node.name]):
            a = first + step * i
            positions[device.name] = Point(centre.x + outer * math.cos(a), centre.y + outer * math.sin(a))
        angle += step * share
    per_row = max(1, int((width - 2 * margin) // SLOT) + 1)
    for i, device in enumerate(loose):
        positions[device.name] = Point(margin + (i % per_row) * SLOT, width + 20 + (i // per_row) * SLOT)
    return positions, width, height


def _line(a: Point, b: Point, link: str, kind: str = "link") -> str:
    style = LINK_STYLES[link]
    dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
    return (
        f'<line class="{kind} link-{link}" x1="{a.x:.1f}" y1="{a.y:.1f}" x2="{b.x:.1f}" y2="{b.y:.1f}" '
        f'stroke="{style["stroke"]}" stroke-width="{style["width"]}"{dash}/>'
    )


def _title(vertex: Vertex) -> str:
    details = ", ".join(f"{k}: {v}" for k, v in sorted(vertex.attributes.items()) if v is not None)
    return escape(f"{vertex.name} ({vertex.vertex_type}) {details}")


def render_svg(edge_map: EdgeMap, title: str = "edge map") -> str:
    """The edge map as an SVG document; every vertex is a <g> with id "vertex-NAME"."""
    positions, drawing_width, height = layout(edge_map)
    width = drawing_width + LEGEND_WIDTH
    nodes, devices = edge_map.of_type(EDGE_NODE), edge_map.of_type(EDGE_DEVICE)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height + 40:.0f}" '
        f'viewBox="0 -40 {width:.0f} {height + 40:.0f}" font-family="DejaVu Sans, sans-serif">',
        f'<rect x="0" y="-40" width="{width:.0f}" height="{height + 40:.0f}" fill="#fafafa"/>',
        f'<text x="16" y="-14" font-size="18" font-weight="bold">{escape(title)}</text>',
        f'<text x="{width - 16:.0f}" y="-14" font-size="13" text-anchor="end">{len(nodes)} nodes, '
        f"{len(devices)} devices, {len(edge_map.edges())} links</text>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#ef6c00"/></marker></defs>',
        '<g class="links">',
    ]
    parts += [_line(positions[a], positions[b], link) for a, b, link in edge_map.edges()]
    # A twin running away from the node its device is linked to (a wired device's fallback): a thin arrow.
    for device in devices:
        twin = device.attributes.get("twinNode")
        if twin in positions and twin not in device.neighbors:
            a, b = positions[device.name], positions[twin]
            parts.append(
                f'<line class="twin-elsewhere" x1="{a.x:.1f}" y1="{a.y:.1f}" x2="{b.x:.1f}" y2="{b.y:.1f}" '
                'stroke="#ef6c00" stroke-width="1.5" stroke-dasharray="1 4" marker-end="url(#arrow)"/>'
            )
    parts.append("</g>")
    for node in nodes:
        p, status = positions[node.name], node.attributes.get("status", "ready")
        free = node.attributes.get("freeMiB")
        sub = f"{free} MiB free" if free is not None else status
        parts.append(
            f'<g class="vertex node {status}" id="vertex-{escape(node.name)}"><title>{_title(node)}</title>'
            f'<circle cx="{p.x:.1f}" cy="{p.y:.1f}" r="{NODE_R}" fill="{NODE_COLOURS.get(status, "#9e9e9e")}" '
            f'stroke="#212121" stroke-width="1.5"/>'
            f'<text x="{p.x:.1f}" y="{p.y + 4:.1f}" font-size="11" font-weight="bold" fill="white" '
            f'text-anchor="middle">{escape(node.name)}</text>'
            f'<text x="{p.x:.1f}" y="{p.y + NODE_R + 13:.1f}" font-size="10" fill="#333" '
            f'text-anchor="middle" paint-order="stroke" stroke="#fafafa" stroke-width="3">{escape(sub)}</text></g>'
        )
    for device in devices:
        p, phase = positions[device.name], device.attributes.get("phase", "Placed")
        protocol = str(device.attributes.get("protocol", ""))
        parts.append(
            f'<g class="vertex device {escape(phase.lower())}" id="vertex-{escape(device.name)}">'
            f"<title>{_title(device)}</title>"
            f'<rect x="{p.x - DEVICE_R:.1f}" y="{p.y - DEVICE_R:.1f}" width="{2 * DEVICE_R}" '
            f'height="{2 * DEVICE_R}" rx="5" fill="{PHASE_COLOURS.get(phase, "#1565c0")}" stroke="#212121"/>'
            f'<text x="{p.x:.1f}" y="{p.y + 3:.1f}" font-size="7" fill="white" text-anchor="middle">'
            f"{escape(protocol)}</text>"
            f'<text x="{p.x:.1f}" y="{p.y + DEVICE_R + 12:.1f}" font-size="10" text-anchor="middle" '
            f'paint-order="stroke" stroke="#fafafa" stroke-width="3">'
            f"{escape(device.name)}</text></g>"
        )
    loose = [d for d in devices if not d.neighbors]
    if loose:
        y = positions[loose[0].name].y - 28
        parts.append(f'<text x="16" y="{y:.1f}" font-size="13" fill="#ef6c00">devices without a node</text>')
    parts.append(_legend(drawing_width))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _legend(left: float) -> str:
    items = [f'<g class="legend" transform="translate({left + 10:.0f}, 10)">']
    y = 0
    for link in LINK_STYLES:
        items.append(_line(Point(0, y), Point(36, y), link, kind="legend-link"))
        items.append(f'<text x="44" y="{y + 4}" font-size="11">{link}</text>')
        y += 17
    items.append(
        f'<line x1="0" y1="{y}" x2="36" y2="{y}" stroke="#ef6c00" stroke-width="1.5" stroke-dasharray="1 4"/>'
        f'<text x="44" y="{y + 4}" font-size="11">twin runs elsewhere</text>'
    )
    y += 17
    for status, colour in NODE_COLOURS.items():
        items.append(f'<circle cx="18" cy="{y}" r="6" fill="{colour}"/>')
        items.append(f'<text x="44" y="{y + 4}" font-size="11">node {status}</text>')
        y += 17
    for phase, colour in PHASE_COLOURS.items():
        items.append(f'<rect x="12" y="{y - 6}" width="12" height="12" rx="3" fill="{colour}"/>')
        items.append(f'<text x="44" y="{y + 4}" font-size="11">device {phase.lower()}</text>')
        y += 17
    items.append("</g>")
    return "".join(items)


def render_html(edge_map: EdgeMap, title: str = "edge map") -> str:
    """A page with the picture and a table of every vertex and its neighbours."""
    rows = []
    for vertex in edge_map.of_type(EDGE_NODE) + edge_map.of_type(EDGE_DEVICE):
        a = vertex.attributes
        state = a.get("status") or a.get("phase") or ""
        detail = (
            f"{a.get('freeMiB', '?')} / {a.get('allocatableMiB', '?')} MiB free"
            if vertex.vertex_type == EDGE_NODE
            else f"{a.get('protocol', '')} {a.get('address', '')}; twin on {a.get('twinNode') or 'no node'}"
        )
        neighbours = ", ".join(f"{n} ({link})" for n, link in sorted(vertex.neighbors.items())) or "-"
        rows.append(
            f"<tr><td>{escape(vertex.name)}</td><td>{escape(vertex.vertex_type)}</td><td>{escape(str(state))}</td>"
            f"<td>{escape(detail)}</td><td>{escape(neighbours)}</td></tr>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>"
        "body{font-family:'DejaVu Sans',sans-serif;margin:24px;color:#212121}"
        "table{border-collapse:collapse;margin-top:16px}td,th{border:1px solid #ccc;padding:4px 10px;"
        "text-align:left;font-size:13px}th{background:#eceff1}svg{max-width:100%;height:auto}</style></head><body>\n"
        f"<h1>{escape(title)}</h1>\n{render_svg(edge_map, title)}"
        "<table><tr><th>vertex</th><th>type</th><th>status</th><th>detail</th><th>neighbours (link)</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )
