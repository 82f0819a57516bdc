"""authpolicy.impact: grouping of authentication-policy failure events (pure, no IO)."""

from __future__ import annotations

from lanman.authpolicy.impact import impact, render_html


def ev(eid, when, **data):
    return {"event_id": eid, "time_utc": when, "data": data}


T1, T2, T3, T4 = (f"2026-03-0{d}T10:00:00.000000Z" for d in (1, 2, 3, 4))
EVENTS = [
    ev(305, T2, account="bob", device="PC2$", policy="P", silo="", reason="ACCESS_DENIED"),
    ev(305, T1, account="Bob", device="pc2$", policy="p", silo="", reason="FAST_REQUIRED"),
    ev(305, T3, account="bob", device="PC2$", policy="P", silo="", reason="ACCESS_DENIED"),
    ev(106, T4, account="bob", device="PC2$", policy="P", silo="", service="cifs/fs1"),
    ev(306, T2, account="eve", device="?", service="cifs/fs1", policy="SVC", silo="S"),
    ev(105, T3, account="eve", device="PC9$", policy="SVC", silo="S", client="10.0.0.9"),
    ev(305, T4, account="bob", device="PC2$", policy="SVC", silo="S"),
    ev(101, T1, account="carol", device="WS1", policy="P", silo="", status="0xC000006E"),
    ev(9120, T1, user="x"),  # not a policy event
    ev(4820, T1, account="bob", policy="P"),  # Security-log twin: counted once via 105
]


def test_groups_per_account_device_service_policy():
    r = impact(EVENTS)
    keys = [(g["account"], g["device"], g["service"], g["policy"], g["count"]) for g in r["groups"]]
    assert keys[0] == ("bob", "PC2$", None, "P", 3)  # case-insensitive; first spelling seen
    assert set(keys[1:]) == {
        ("bob", "PC2$", "cifs/fs1", "P", 1),
        ("eve", None, "cifs/fs1", "SVC", 1),
        ("eve", "PC9$", None, "SVC", 1),
        ("bob", "PC2$", None, "SVC", 1),
        ("carol", "WS1", None, "P", 1),
    }
    top = r["groups"][0]
    assert top["first_seen"] == T1 and top["last_seen"] == T3
    assert top["outcome"] == "would-deny" and top["audit"] == 3 and top["denied"] == 0
    assert top["reasons"] == ["ACCESS_DENIED", "FAST_REQUIRED"] and top["kinds"] == ["tgt"]
    assert top["event_ids"] == [305]


def test_outcomes_and_summary():
    r = impact(EVENTS)
    by = {
        (g["account"].lower(), g["service"], g["policy"].lower(), g["device"]): g
        for g in r["groups"]
    }
    assert by[("bob", "cifs/fs1", "p", "PC2$")]["outcome"] == "denied"
    assert by[("eve", None, "svc", "PC9$")]["clients"] == ["10.0.0.9"]
    assert by[("carol", None, "p", "WS1")]["kinds"] == ["ntlm"]
    s = r["summary"]
    assert s["events"] == 8 and s["groups"] == 6
    assert s["would_deny"] == 5 and s["denied"] == 3
    assert s["accounts"] == 3 and s["devices"] == 3 and s["services"] == 1
    assert s["first_seen"] == T1 and s["last_seen"] == T4


def test_mixed_outcome():
    r = impact(
        [
            ev(305, T1, account="a", device="d", policy="P"),
            ev(105, T2, account="a", device="d", policy="P"),
        ]
    )
    (g,) = r["groups"]
    assert g["outcome"] == "mixed" and g["count"] == 2 and g["event_ids"] == [105, 305]


def test_filters():
    r = impact(EVENTS, policy="svc")
    assert {g["policy"] for g in r["groups"]} == {"SVC"} and r["summary"]["events"] == 3
    r = impact(EVENTS, silo="s")
    assert r["summary"]["events"] == 3 and r["filter"]["silo"] == "s"
    r = impact(EVENTS, since="2026-03-03")
    assert r["summary"]["events"] == 4
    assert r["filter"]["since"] == "2026-03-03T00:00:00.000000Z"
    r = impact(EVENTS, since="2026-03-03T11:00:00+01:00")  # 10:00Z: inclusive
    assert r["summary"]["events"] == 4
    assert impact([], policy="x")["groups"] == []
    assert impact([])["summary"]["first_seen"] is None


def test_html_escapes_and_lists_groups():
    evil = [ev(305, T1, account="<script>x</script>", device="d&d", policy='"P"')]
    page = render_html(impact(evil))
    assert "<script>x" not in page and "&lt;script&gt;" in page and "d&amp;d" in page
    assert page.count("<tr class=") == 1 and 'class="would-deny"' in page
    page = render_html(impact(EVENTS))
    assert page.count("<tr class=") == 6
