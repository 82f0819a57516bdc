"""Events as Windows event XML, in the shape ``wevtutil qe LOG /f:xml /e:Events`` writes.

Each event becomes ``<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">``
with a ``<System>`` part (Provider, EventID, Version, Level as its number, Task, Opcode,
TimeCreated SystemTime, EventRecordID, Channel, Computer; no Keywords, which lanman's
catalogue does not define) and an ``<EventData>`` part with one ``<Data Name=…>`` per
data field of the event (lanman's field names; the rendered message is the ``Message`` item
of ``<RenderingInfo>``, as ``wevtutil qe /f:RenderedXml`` adds it). The Provider is the
component that wrote the event (the Event Viewer's "Source"); the Channel is the event's
channel from :mod:`lanman.events.catalogue`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree as ET

from lanman.events.catalogue import BY_ID, CRITICAL, ERROR, INFORMATION, WARNING

__all__ = ["EVENT_NS", "LEVEL_NUMBERS", "event_element", "events_to_xml"]

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
#: Level as the System/Level element carries it (winmeta.xml: win:Critical 1 … win:Verbose 5).
LEVEL_NUMBERS = {CRITICAL: 1, ERROR: 2, WARNING: 3, INFORMATION: 4, "Verbose": 5}
_DEFAULT_CHANNEL = "lanman/Operational"


def _value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    return str(v)


def _clean(text: str) -> str:
    """Drop the characters XML 1.0 cannot hold (control characters other than tab/LF/CR)."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd") or c > "\uffff"
    )


def event_element(event: dict[str, Any], computer: str = "") -> ET.Element:
    """One event dict (as :meth:`EventLog.query` returns it) as an ``<Event>`` element."""
    ev = ET.Element("Event", {"xmlns": EVENT_NS})
    system = ET.SubElement(ev, "System")
    ET.SubElement(system, "Provider", {"Name": _clean(str(event.get("source") or "lanman"))})
    ET.SubElement(system, "EventID").text = str(int(event["event_id"]))
    ET.SubElement(system, "Version").text = "0"
    ET.SubElement(system, "Level").text = str(LEVEL_NUMBERS.get(event.get("level"), 0))
    ET.SubElement(system, "Task").text = "0"
    ET.SubElement(system, "Opcode").text = "0"
    ET.SubElement(system, "TimeCreated", {"SystemTime": str(event.get("time_utc") or "")})
    ET.SubElement(system, "EventRecordID").text = str(int(event.get("id") or 0))
    definition = BY_ID.get(int(event["event_id"]))
    channel = definition.channel if definition is not None else _DEFAULT_CHANNEL
    ET.SubElement(system, "Channel").text = channel
    ET.SubElement(system, "Computer").text = _clean(computer)
    data = ET.SubElement(ev, "EventData")
    for name, value in sorted((event.get("data") or {}).items()):
        item = ET.SubElement(data, "Data", {"Name": _clean(str(name))})
        item.text = _clean(_value(value))
    rendering = ET.SubElement(ev, "RenderingInfo", {"Culture": "en-US"})
    ET.SubElement(rendering, "Message").text = _clean(str(event.get("message") or ""))
    ET.SubElement(rendering, "Level").text = str(event.get("level") or "")
    ET.SubElement(rendering, "Channel").text = channel
    ET.SubElement(rendering, "Provider").text = _clean(str(event.get("source") or "lanman"))
    return ev


def events_to_xml(events: Iterable[dict[str, Any]], computer: str = "") -> str:
    """``<Events>…</Events>`` for the events in the order given (export oldest first)."""
    root = ET.Element("Events")
    for event in events:
        root.append(event_element(event, computer))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
