"""events.xml and `lanman events export`: Windows event XML (wevtutil qe /f:xml shape)."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.events import EventLog
from lanman.events.xml import EVENT_NS, events_to_xml
from lanman.home import Home

NS = {"e": EVENT_NS}


def test_event_xml_fields():
    row = {
        "id": 42,
        "time_utc": "2026-03-01T10:00:00.123456Z",
        "event_id": 305,
        "level": "Warning",
        "source": "kdc",
        "message": "A Kerberos TGT would have been denied <audit> & logged",
        "data": {
            "account": "bob",
            "device": "PC2$",
            "policy": "P",
            "silo": "",
            "n": 3,
            "ok": True,
            "bad": "a\x01b",
        },
    }
    root = ET.fromstring(events_to_xml([row], computer="DC1"))
    assert root.tag == "Events"
    (e,) = root.findall("e:Event", NS)
    sys_ = e.find("e:System", NS)
    assert sys_.find("e:Provider", NS).get("Name") == "kdc"
    assert sys_.find("e:EventID", NS).text == "305"
    assert sys_.find("e:Level", NS).text == "3"
    assert sys_.find("e:TimeCreated", NS).get("SystemTime") == "2026-03-01T10:00:00.123456Z"
    assert sys_.find("e:EventRecordID", NS).text == "42"
    assert sys_.find("e:Channel", NS).text == (
        "Microsoft-Windows-Authentication/AuthenticationPolicyFailures-DomainController"
    )
    assert sys_.find("e:Computer", NS).text == "DC1"
    data = {d.get("Name"): d.text or "" for d in e.find("e:EventData", NS).findall("e:Data", NS)}
    assert data == {
        "account": "bob",
        "device": "PC2$",
        "policy": "P",
        "silo": "",
        "n": "3",
        "ok": "true",
        "bad": "ab",
    }
    msg = e.find("e:RenderingInfo/e:Message", NS).text
    assert msg == row["message"]


@pytest.mark.parametrize(("level", "n"), [("Critical", "1"), ("Error", "2"), ("Information", "4")])
def test_levels_and_unknown_ids(level, n):
    row = {
        "id": 1,
        "time_utc": "t",
        "event_id": 65000,
        "level": level,
        "source": "x",
        "message": "",
        "data": {},
    }
    e = ET.fromstring(events_to_xml([row])).find("e:Event", NS)
    assert e.find("e:System/e:Level", NS).text == n
    assert e.find("e:System/e:Channel", NS).text == "lanman/Operational"


def test_empty_export_is_valid():
    root = ET.fromstring(events_to_xml([]))
    assert root.tag == "Events" and len(root) == 0


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    Home.open(h).close()  # create the home (a read command like `events` never does)
    log = EventLog(h / "lanman.sqlite")
    log.emit(
        "AUTHN_POLICY_TGT_AUDIT",
        source="kdc",
        account="bob",
        device="PC2$",
        policy="P",
        silo="",
        reason="ACCESS_DENIED",
    )
    log.emit("USER_ADDED", source="lanman-cli", user="amy", rid=1001)
    log.emit(
        "AUTHN_POLICY_SERVICE_TICKET_DENIED",
        source="kdc",
        account="eve",
        device="",
        service="cifs/fs1",
        policy="SVC",
        silo="S",
        reason="ACCESS_DENIED",
    )
    log.close()
    return h


def lanman(home, *args, ok=True):
    r = CliRunner().invoke(cli, ["--home", str(home), *args])
    assert (r.exit_code == 0) == ok, r.output
    return r


def test_events_id_json(home):
    rows = json.loads(lanman(home, "events", "--id", "305", "--json").output)
    assert [r["event_id"] for r in rows] == [305]
    assert rows[0]["data"]["account"] == "bob" and rows[0]["name"] == "AUTHN_POLICY_TGT_AUDIT"
    assert json.loads(lanman(home, "events", "--json", "--until", "2000-01-01").output) == []


def test_export_xml_to_stdout_and_file(home, tmp_path):
    root = ET.fromstring(lanman(home, "events", "export", "--format", "xml").stdout)
    ids = [e.find("e:System/e:EventID", NS).text for e in root.findall("e:Event", NS)]
    assert ids == ["305", "9120", "106"]  # oldest first
    rec = [int(e.find("e:System/e:EventRecordID", NS).text) for e in root.findall("e:Event", NS)]
    assert rec == sorted(rec)
    out = tmp_path / "ev.xml"
    r = lanman(home, "events", "export", "--id", "106", "-o", str(out))
    assert "Exported 1 events" in r.output
    (e,) = ET.parse(out).getroot().findall("e:Event", NS)
    data = {d.get("Name"): d.text for d in e.findall("e:EventData/e:Data", NS)}
    assert data["service"] == "cifs/fs1" and data["policy"] == "SVC"
    assert e.find("e:System/e:Level", NS).text == "2"


def test_export_json_and_time_filters(home):
    rows = json.loads(lanman(home, "events", "export", "--format", "json").stdout)
    assert [r["event_id"] for r in rows] == [305, 9120, 106]
    rows = json.loads(
        lanman(home, "events", "export", "--format", "json", "--until", "2000-01-01").stdout
    )
    assert rows == []
    rows = json.loads(
        lanman(home, "events", "export", "--format", "json", "--since", "2000-01-01").stdout
    )
    assert len(rows) == 3
    r = lanman(home, "events", "export", "--since", "soon", ok=False)
    assert "ISO 8601" in r.output
    r = lanman(home, "events", "export", "--format", "csv", ok=False)
    assert r.exit_code == 2
