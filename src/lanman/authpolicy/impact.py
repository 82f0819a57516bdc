"""What an authentication policy did, or would do once enforced, read from the event log.

:func:`impact` is pure: it takes event dicts (as :meth:`lanman.events.EventLog.query` returns
them) and groups the authentication-policy failures — 305/306 (audit mode: *would* have been
denied), 105/106 (enforced: denied) and 101 (NTLM refused) — per (account, device, service,
policy), with how often, since when and until when. It is the question to answer before
``lanman auth policy modify NAME --enforce``: who would be locked out, from where, to what.
The Security-log twins 4820/4821 are not counted (they duplicate 105/106).
:func:`render_html` turns the report into a standalone page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = ["AUDIT_EVENTS", "DENIAL_EVENTS", "IMPACT_EVENTS", "impact", "render_html"]

AUDIT_EVENTS = frozenset({305, 306})  # audit mode: the ticket was issued
DENIAL_EVENTS = frozenset({101, 105, 106})  # enforced: the request was refused
IMPACT_EVENTS = AUDIT_EVENTS | DENIAL_EVENTS
_KIND = {101: "ntlm", 105: "tgt", 106: "service-ticket", 305: "tgt", 306: "service-ticket"}


def _text(value: Any) -> str:
    return "" if value is None or value == "?" else str(value)


def _when(value: str | datetime | None) -> str | None:
    """An ISO 8601 instant in the event log's form (UTC, microseconds, Z)."""
    if value is None:
        return None
    ts = datetime.fromisoformat(value) if isinstance(value, str) else value
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def impact(
    events: Iterable[dict[str, Any]],
    *,
    policy: str | None = None,
    silo: str | None = None,
    since: str | datetime | None = None,
) -> dict[str, Any]:
    """Group authentication-policy failure events.

    ``policy``/``silo`` keep only events naming that policy/silo (case-insensitive);
    ``since`` only events at or after it. The report: ``groups`` (most frequent first), each
    with account, device, service, policy, silo, ``outcome`` (``would-deny`` when only audit
    events were seen, ``denied`` when only enforced ones, ``mixed``), count, audit and
    denied counts, first_seen, last_seen, the event ids, kinds and reasons seen; and
    ``summary`` (events, groups, distinct accounts/devices/services, first/last seen).
    """
    floor = _when(since)
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for ev in events:
        eid = ev.get("event_id")
        if eid not in IMPACT_EVENTS:
            continue
        when = ev.get("time_utc") or ""
        if floor is not None and when < floor:
            continue
        data = ev.get("data") or {}
        pol, sil = _text(data.get("policy")), _text(data.get("silo"))
        if policy is not None and pol.lower() != policy.lower():
            continue
        if silo is not None and sil.lower() != silo.lower():
            continue
        account, device = _text(data.get("account")), _text(data.get("device"))
        service = _text(data.get("service"))
        key = (account.lower(), device.lower(), service.lower(), pol.lower())
        g = groups.get(key)
        if g is None:
            g = groups[key] = {
                "account": account,
                "device": device or None,
                "service": service or None,
                "policy": pol or None,
                "silo": sil or None,
                "count": 0,
                "audit": 0,
                "denied": 0,
                "first_seen": when,
                "last_seen": when,
                "event_ids": set(),
                "kinds": set(),
                "reasons": set(),
                "clients": set(),
            }
        g["count"] += 1
        g["audit" if eid in AUDIT_EVENTS else "denied"] += 1
        g["first_seen"] = min(g["first_seen"], when)
        g["last_seen"] = max(g["last_seen"], when)
        g["event_ids"].add(eid)
        g["kinds"].add(_KIND[eid])
        if sil and not g["silo"]:
            g["silo"] = sil
        for field, src in (("reasons", "reason"), ("clients", "client")):
            v = _text(data.get(src))
            if v:
                g[field].add(v)
    out = []
    for g in groups.values():
        g["outcome"] = (
            "mixed" if g["audit"] and g["denied"] else "would-deny" if g["audit"] else "denied"
        )
        for field in ("event_ids", "kinds", "reasons", "clients"):
            g[field] = sorted(g[field])
        out.append(g)
    out.sort(
        key=lambda g: (-g["count"], g["account"].lower(), g["device"] or "", g["service"] or "")
    )
    return {
        "filter": {"policy": policy, "silo": silo, "since": floor},
        "summary": {
            "events": sum(g["count"] for g in out),
            "groups": len(out),
            "accounts": len({g["account"].lower() for g in out}),
            "devices": len({(g["device"] or "").lower() for g in out if g["device"]}),
            "services": len({(g["service"] or "").lower() for g in out if g["service"]}),
            "would_deny": sum(g["audit"] for g in out),
            "denied": sum(g["denied"] for g in out),
            "first_seen": min((g["first_seen"] for g in out), default=None),
            "last_seen": max((g["last_seen"] for g in out), default=None),
        },
        "groups": out,
    }


_COLUMNS = (
    ("Account", "account"),
    ("Device", "device"),
    ("Service", "service"),
    ("Policy", "policy"),
    ("Silo", "silo"),
    ("Outcome", "outcome"),
    ("Count", "count"),
    ("First seen (UTC)", "first_seen"),
    ("Last seen (UTC)", "last_seen"),
    ("Reasons", "reasons"),
)


def render_html(report: dict[str, Any], title: str = "Authentication policy impact") -> str:
    """The report as one self-contained HTML page (every value escaped)."""
    e = html.escape
    s = report["summary"]
    f = report["filter"]
    scope = ", ".join(f"{k} {v}" for k, v in f.items() if v) or "all policies and silos"
    rows = []
    for g in report["groups"]:
        cells = []
        for _, key in _COLUMNS:
            v = g[key]
            v = ", ".join(v) if isinstance(v, list) else "" if v is None else str(v)
            cells.append(f"<td>{e(v)}</td>")
        rows.append(f'<tr class="{e(g["outcome"])}">{"".join(cells)}</tr>')
    head = "".join(f"<th>{e(name)}</th>" for name, _ in _COLUMNS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;text-align:left}"
        "tr.denied{background:#fdd}tr.would-deny{background:#ffd}tr.mixed{background:#fed}"
        "</style></head><body>\n"
        f"<h1>{e(title)}</h1>\n"
        f"<p>Scope: {e(scope)}. {s['events']} events in {s['groups']} groups: "
        f"{s['would_deny']} would have been denied (audit), {s['denied']} were denied; "
        f"{s['accounts']} accounts, {s['devices']} devices, {s['services']} services; "
        f"from {e(s['first_seen'] or '-')} to {e(s['last_seen'] or '-')}.</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></body></html>\n"
    )
