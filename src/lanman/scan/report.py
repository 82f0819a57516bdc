"""Renderers for a scan: JSON document, CSV, a rich table and a self-contained HTML page.

The JSON document is described by ``scan-report.schema.json`` (draft 2020-12), installed with
the package next to this module: :func:`schema` loads it.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
from collections import Counter
from importlib import metadata, resources

from lanman.scan.model import HostResult
from lanman.scan.probes import dialect_name
from lanman.scan.scanner import ScanRun
from lanman.scan.verdicts import relay_remedy

__all__ = [
    "SCHEMA_FILE",
    "SCHEMA_ID",
    "render_csv",
    "render_html",
    "render_table",
    "summary",
    "to_document",
]

SCHEMA_ID = "https://lanman.invalid/schemas/scan-report.schema.json"
SCHEMA_FILE = "scan-report.schema.json"  # package data of lanman.scan (pyproject.toml)
FORMAT = "lanman-scan-report/1"


def schema() -> dict[str, object]:
    """The JSON Schema of :func:`to_document` (from the installed package data)."""
    return json.loads(resources.files("lanman.scan").joinpath(SCHEMA_FILE).read_text("utf-8"))


def _version() -> str:
    try:
        return metadata.version("lanman")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0"


def host_document(h: HostResult) -> dict[str, object]:
    neg = h.smb2_negotiated
    return {
        "target": h.target,
        "host": h.host,
        "port": h.port,
        "address": h.address or None,
        "reachable": h.reachable,
        "error": h.error or None,
        "family": h.family,
        "family_evidence": h.family_evidence or None,
        "smb1": h.smb1.as_dict() if h.smb1 else None,
        "smb2": {
            "negotiated_dialect": (
                dialect_name(neg.dialect) if neg is not None and neg.offered else None
            ),
            "security_mode": neg.security_mode if neg is not None else None,
            "nmap_smb2_security_mode": h.nmap_smb2 or None,
            "dialects": [d.as_dict() for d in h.dialects],
            "signing_algorithms": list(h.signing_algorithms),
            "ciphers": list(h.ciphers),
            "server_guid": h.server_guid or None,
        },
        "spnego_mechanisms": list(h.mechanisms),
        "ntlm": h.ntlm.as_dict() if h.ntlm else None,
        "sessions": {
            "anonymous": h.anonymous.as_dict() if h.anonymous else None,
            "guest": h.guest.as_dict() if h.guest else None,
            "user": h.user.as_dict() if h.user else None,
        },
        "guest_accepted": h.guest_accepted,
        "anonymous_accepted": h.anonymous_accepted,
        "guest_can_list_shares": h.guest_can_list_shares,
        "anonymous_can_list_shares": h.anonymous_can_list_shares,
        "findings": h.findings,
        "signing_required": h.signing_required,
        "relay_risk": h.relay_risk,
        "relay_reasons": h.relay_reasons,
        "relay_remedies": relay_remedy(h.family) if h.relay_risk else [],
        "verdicts": [v.as_dict() for v in h.verdicts],
        "seconds": round(h.seconds, 4),
    }


def summary(run: ScanRun) -> dict[str, object]:
    status = Counter()
    cells = Counter()
    for h in run.results:
        for v in h.verdicts:
            status[v.status] += 1
            cells[v.label] += 1
    return {
        "works": status.get("works", 0),
        "fails": status.get("fails", 0),
        "unreachable": status.get("unreachable", 0),
        "relay_risk": sum(1 for h in run.results if h.relay_risk),
        "by_verdict": dict(sorted(cells.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def to_document(run: ScanRun, *, now: _dt.datetime | None = None) -> dict[str, object]:
    now = now or _dt.datetime.now(_dt.UTC)
    return {
        "$schema": SCHEMA_ID,
        "format": FORMAT,
        "tool": {"name": "lanman", "version": _version()},
        "generated": now.isoformat(timespec="seconds"),
        "profiles": list(run.profiles),
        "targets": run.targets,
        "scanned": len(run.results),
        "interrupted": run.interrupted,
        "seconds": round(run.seconds, 3),
        "summary": summary(run),
        "hosts": [host_document(h) for h in run.results],
    }


# ---- CSV ----------------------------------------------------------------------------------

CSV_FIELDS = [
    "target",
    "address",
    "reachable",
    "family",
    "profile",
    "verdict",
    "scenario",
    "code",
    "name",
    "signed",
    "dialect",
    "smb2_dialects",
    "smb1",
    "smb1_security_mode",
    "signing_required",
    "nmap_smb2_security_mode",
    "relay_risk",
    "guest",
    "anonymous",
    "guest_can_list_shares",
    "anonymous_can_list_shares",
    "signing_algorithms",
    "ciphers",
    "mechanisms",
    "netbios_computer",
    "netbios_domain",
    "dns_computer",
    "error",
]


def csv_rows(run: ScanRun) -> list[dict[str, object]]:
    rows = []
    for h in run.results:
        base = {
            "target": h.target,
            "address": h.address,
            "reachable": h.reachable,
            "family": h.family,
            "smb2_dialects": " ".join(dialect_name(d.dialect) for d in h.smb2_offered),
            "smb1": bool(h.smb1 and h.smb1.offered),
            "smb1_security_mode": (h.smb1.security_mode if h.smb1 and h.smb1.offered else ""),
            "signing_required": "" if h.signing_required is None else h.signing_required,
            "nmap_smb2_security_mode": h.nmap_smb2,
            "relay_risk": h.relay_risk,
            "guest": h.guest_accepted,
            "anonymous": h.anonymous_accepted,
            "guest_can_list_shares": h.guest_can_list_shares,
            "anonymous_can_list_shares": h.anonymous_can_list_shares,
            "signing_algorithms": " ".join(h.signing_algorithms),
            "ciphers": " ".join(h.ciphers),
            "mechanisms": " ".join(h.mechanisms),
            "netbios_computer": h.ntlm.netbios_computer if h.ntlm else "",
            "netbios_domain": h.ntlm.netbios_domain if h.ntlm else "",
            "dns_computer": h.ntlm.dns_computer if h.ntlm else "",
            "error": h.error,
        }
        for v in h.verdicts:
            o = v.outcome
            rows.append(
                dict(
                    base,
                    profile=v.profile,
                    verdict=v.status,
                    scenario=v.scenario,
                    code=o.code_display,
                    name=o.name,
                    signed=o.signed,
                    dialect=o.dialect,
                )
            )
    return rows


def render_csv(run: ScanRun) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in csv_rows(run):
        w.writerow(row)
    return buf.getvalue()


# ---- table (rich) ---------------------------------------------------------------------------


def _anon_state(h: HostResult) -> str:
    """What the anonymous probe found: 'shares listed', 'accepted', 'refused', 'not tried'."""
    a = h.anonymous
    if a is None or not a.attempted:
        return "not tried"
    if h.anonymous_can_list_shares:
        return "shares listed"
    return "accepted" if h.anonymous_accepted else "refused"


def _anon_cell(h: HostResult) -> str:
    state = _anon_state(h)
    return "[red]shares listed[/]" if state == "shares listed" else state


def render_table(run: ScanRun, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(
        title=f"lanman scan: {len(run.results)}/{run.targets} targets, "
        f"profiles {', '.join(run.profiles)}"
    )
    for col in (
        "Target",
        "Family",
        "SMB2 dialects",
        "SMB1",
        "Signing (nmap)",
        "Relay",
        "Guest",
        "Anon",
        "Verdict",
    ):
        t.add_column(col, overflow="fold")
    for h in run.results:
        if not h.reachable:
            sig = h.error or "unreachable"
        else:
            sig = h.nmap_smb2 or "-"
        smb1 = f"yes (mode {h.smb1.security_mode})" if h.smb1 and h.smb1.offered else "no"
        verdicts = "\n".join(
            f"[{'green' if v.works else 'red'}]{v.profile}: {v.label}[/]" for v in h.verdicts
        )
        guest = (
            "yes" + (" +shares" if h.guest_can_list_shares else "") if h.guest_accepted else "no"
        )
        t.add_row(
            h.target,
            h.family,
            " ".join(dialect_name(d.dialect) for d in h.smb2_offered) or "-",
            smb1,
            sig,
            "[red]RISK[/]" if h.relay_risk else "no",
            guest,
            _anon_cell(h),
            verdicts,
        )
    console.print(t)
    for h in run.results:
        for f in h.findings:
            console.print(f"[bold]{h.target}[/] [red]finding:[/] {escape(f)}", highlight=False)
    failing = [(h, v) for h in run.results for v in h.verdicts if not v.works and v.remedies]
    for h, v in failing:
        console.print(
            f"[bold]{h.target}[/] {v.profile}: {v.outcome.cell} — {v.outcome.text}",
            markup=True,
            highlight=False,
        )
        for r in v.remedies[:2]:
            console.print(f"  remedy ({r['side']}): {r['summary']}", markup=False)
            for line in r["how"]:
                console.print(f"    {line}", markup=False, highlight=False)
    if run.interrupted:
        console.print(
            f"[yellow]interrupted: {len(run.results)} of {run.targets} targets finished[/]"
        )


# ---- HTML -------------------------------------------------------------------------------------

_COLOURS = {"works": "#2e8b57", "fails": "#c0392b", "unreachable": "#7f8c8d"}


def _chart(run: ScanRun) -> str:
    """Inline SVG bar chart: one bar per verdict label (counts over hosts × profiles)."""
    cells: Counter = Counter()
    status_of: dict[str, str] = {}
    for h in run.results:
        for v in h.verdicts:
            cells[v.label] += 1
            status_of[v.label] = v.status
    items = sorted(cells.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    if not items:
        items = [("no results", 0)]
    top = max(c for _, c in items) or 1
    bar_h, gap, label_w, width = 28, 10, 430, 980
    height = len(items) * (bar_h + gap) + 50
    out = [
        (
            f'<svg id="summary-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            'aria-label="verdict counts">'
        ),
        "<title>Verdicts (hosts × profiles)</title>",
        (
            f'<text x="0" y="18" font-size="16" font-weight="bold">Verdicts '
            f"({sum(cells.values())} = hosts × profiles)</text>"
        ),
    ]
    for i, (label, count) in enumerate(items):
        y = 34 + i * (bar_h + gap)
        w = int((width - label_w - 60) * count / top)
        colour = _COLOURS.get(status_of.get(label, ""), "#34495e")
        out.append(f'<text x="0" y="{y + 19}" font-size="13">{html.escape(label[:60])}</text>')
        out.append(
            f'<rect class="bar" data-status="{status_of.get(label, "")}" x="{label_w}" '
            f'y="{y}" width="{max(w, 2)}" height="{bar_h}" fill="{colour}"/>'
        )
        out.append(
            f'<text x="{label_w + max(w, 2) + 6}" y="{y + 19}" font-size="13">{count}</text>'
        )
    out.append("</svg>")
    return "".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px} table{border-collapse:collapse;margin:8px 0 18px}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top;text-align:left}
th{background:#f0f0f0} .works{color:#2e8b57;font-weight:bold} .fails{color:#c0392b;font-weight:bold}
.unreachable{color:#7f8c8d;font-weight:bold} .risk{color:#c0392b} details{margin:6px 0}
code{background:#f6f6f6;padding:1px 3px}
"""


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def _host_html(h: HostResult) -> str:
    rows = []
    for d in h.dialects:
        rows.append(
            f"<tr><td>{_e(dialect_name(d.dialect))}</td><td>{'yes' if d.offered else 'no'}"
            f"</td><td>{_e(d.security_mode)}</td><td>{_e(d.signing_enabled)}</td>"
            f"<td>{_e(d.signing_required)}</td><td>{_e(d.detail)}</td></tr>"
        )
    dialects = (
        "<table><tr><th>Dialect</th><th>Offered</th><th>SecurityMode</th>"
        "<th>Signing enabled</th><th>Signing required</th><th>Detail</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    verdicts = []
    for v in h.verdicts:
        rem = "".join(
            f"<li>{_e(r['side'])}: {_e(r['summary'])}"
            + "".join(f"<br><code>{_e(x)}</code>" for x in r["how"])
            + "</li>"
            for r in v.remedies
        )
        verdicts.append(
            f"<tr><td>{_e(v.profile)}</td><td class='{v.status}'>{_e(v.status)}</td>"
            f"<td>{_e(v.scenario)}</td><td>{_e(v.outcome.cell)}</td>"
            f"<td>{_e(v.outcome.text)}</td><td><ul>{rem}</ul></td></tr>"
        )
    vt = (
        "<table><tr><th>Profile</th><th>Verdict</th><th>Scenario</th><th>Code</th>"
        "<th>Message</th><th>Remedies</th></tr>" + "".join(verdicts) + "</table>"
    )
    n = h.ntlm
    smb1 = (
        f"offered, SecurityMode {h.smb1.security_mode} ({h.smb1.signing})"
        if h.smb1 and h.smb1.offered
        else "not offered"
    )
    shares = ""
    if h.guest and h.guest.shares is not None:
        shares = ", ".join(str(s["name"]) for s in h.guest.shares)
    facts = [
        ("Address", f"{h.address}:{h.port}" if h.address else h.error),
        ("Family", f"{h.family} {('(' + h.family_evidence + ')') if h.family_evidence else ''}"),
        ("nmap smb2-security-mode", h.nmap_smb2),
        ("SMB1", smb1),
        ("3.1.1 signing algorithms", ", ".join(h.signing_algorithms)),
        ("3.1.1 ciphers", ", ".join(h.ciphers)),
        ("SPNEGO mechanisms", ", ".join(h.mechanisms)),
        (
            "NTLM names",
            f"{n.netbios_computer} / {n.netbios_domain} / {n.dns_computer}" if n else "",
        ),
        (
            "Anonymous session",
            _anon_state(h)
            + (
                "; shares: " + ", ".join(str(s["name"]) for s in h.anonymous.shares)
                if h.anonymous_can_list_shares and h.anonymous and h.anonymous.shares
                else ""
            ),
        ),
        (
            "Guest session",
            ("accepted" if h.guest_accepted else "refused")
            + (f"; shares: {shares}" if shares else ""),
        ),
        (
            "Authenticated session",
            (
                f"{h.user.session or 'refused'} {h.user.dialect} signed={h.user.signed} "
                f"{h.user.name}"
                + (f"; {h.user.tree_connect} requires encryption" if h.user.share_encrypted else "")
                + (f"; session encrypted ({h.user.cipher})" if h.user.encrypted else "")
            )
            if h.user
            else "not tried (no credentials)",
        ),
        ("Relay risk", "; ".join(h.relay_reasons) or "no"),
        *(("Finding", f) for f in h.findings),
    ]
    ft = (
        "<table>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
        + "</table>"
    )
    cls = "risk" if h.relay_risk else ""
    flagged = (
        " <span class='risk'>anonymous share enumeration allowed</span>"
        if h.anonymous_can_list_shares
        else ""
    )
    return (
        f"<details class='host' open><summary><b>{_e(h.target)}</b> "
        f"<span class='{cls}'>{'relay risk' if h.relay_risk else ''}</span>{flagged}</summary>"
        f"{ft}{dialects}{vt}</details>"
    )


def render_html(run: ScanRun, *, now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.UTC)
    s = summary(run)
    head = (
        f"<p>{len(run.results)} of {run.targets} targets scanned in {run.seconds:.1f} s "
        f"({now.isoformat(timespec='seconds')}); profiles: {_e(', '.join(run.profiles))}. "
        f"<span class='works'>{s['works']} works</span>, "
        f"<span class='fails'>{s['fails']} fails</span>, "
        f"<span class='unreachable'>{s['unreachable']} unreachable</span>; "
        f"<span class='risk'>{s['relay_risk']} hosts at relay risk</span>."
        + (" <b>Interrupted.</b>" if run.interrupted else "")
        + "</p>"
    )
    overview = [
        (
            "<table><tr><th>Target</th><th>Family</th><th>Signing (nmap)</th>"
            "<th>Relay risk</th><th>Guest</th><th>Anonymous</th><th>Verdicts</th></tr>"
        )
    ]
    for h in run.results:
        vs = "<br>".join(
            f"<span class='{v.status}'>{_e(v.profile)}: {_e(v.label)}</span>" for v in h.verdicts
        )
        overview.append(
            f"<tr><td>{_e(h.target)}</td><td>{_e(h.family)}</td>"
            f"<td>{_e(h.nmap_smb2 or h.error)}</td>"
            f"<td>{'yes' if h.relay_risk else 'no'}</td>"
            f"<td>{'yes' if h.guest_accepted else 'no'}</td>"
            + (
                "<td class='risk'>shares listed (finding)</td>"
                if h.anonymous_can_list_shares
                else f"<td>{_e(_anon_state(h))}</td>"
            )
            + f"<td>{vs}</td></tr>"
        )
    overview.append("</table>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>lanman scan report</title>"
        f"<style>{_CSS}</style></head><body><h1>lanman scan report</h1>{head}"
        f"<div id='chart'>{_chart(run)}</div><h2>Overview</h2>{''.join(overview)}"
        f"<h2>Hosts</h2>{''.join(_host_html(h) for h in run.results)}</body></html>"
    )
