"""Inheritance of file and directory descriptors (MS-DTYP 2.5.3.4)."""

from __future__ import annotations

from lanman.security.inherit import inherit_sd
from lanman.security.sddl_parse import parse_sddl
from lanman.security.sddl_write import sd_to_sddl

DOM = "S-1-5-21-1-2-3"
OWNER = f"{DOM}-1105"
PARENT = parse_sddl(
    "O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)(A;CI;0x1200a9;;;BU)(A;OI;FR;;;WD)"
    "(A;OICINP;FX;;;AU)(A;;FA;;;SY)",
    DOM,
)


def test_file_inherits_object_inherit_aces() -> None:
    sd = inherit_sd(PARENT, is_container=False, owner=OWNER, group="SY")
    assert sd_to_sddl(sd, DOM) == (
        f"O:{OWNER}G:SYD:AI(A;ID;FA;;;BA)(A;ID;FA;;;{OWNER})(A;ID;FR;;;WD)(A;ID;FX;;;AU)"
    )


def test_directory_splits_creator_owner_and_keeps_inheritance() -> None:
    sd = inherit_sd(PARENT, is_container=True, owner=OWNER, group="SY")
    assert sd_to_sddl(sd, DOM) == (
        f"O:{OWNER}G:SYD:AI(A;OICIID;FA;;;BA)(A;ID;FA;;;{OWNER})(A;OICIIOID;GA;;;CO)"
        "(A;CIID;0x1200a9;;;BU)(A;OIIOID;FR;;;WD)(A;ID;FX;;;AU)"
    )


def test_generic_rights_are_split_for_containers() -> None:
    parent = parse_sddl("D:(A;OICI;GA;;;SY)")
    sd = inherit_sd(parent, is_container=True, owner=OWNER)
    assert sd_to_sddl(sd) == f"O:{OWNER}D:AI(A;ID;FA;;;SY)(A;OICIIOID;GA;;;SY)"


def test_creator_explicit_first_and_protected_takes_nothing() -> None:
    creator = parse_sddl("D:(A;;FR;;;BU)")
    sd = inherit_sd(PARENT, is_container=False, owner=OWNER, creator=creator)
    assert sd_to_sddl(sd, DOM).startswith(f"O:{OWNER}D:AI(A;;FR;;;BU)(A;ID;FA;;;BA)")
    protected = parse_sddl("D:P(A;;FR;;;BU)")
    sd = inherit_sd(PARENT, is_container=False, owner=OWNER, creator=protected)
    assert sd_to_sddl(sd, DOM) == f"O:{OWNER}D:PAI(A;;FR;;;BU)"  # as Windows writes them


def test_default_dacl_when_nothing_is_inherited() -> None:
    parent = parse_sddl("D:(A;;FA;;;SY)")
    default = parse_sddl("D:(A;;FA;;;SY)(A;;FA;;;OW)").dacl
    sd = inherit_sd(parent, is_container=False, owner=OWNER, default_dacl=default)
    assert sd_to_sddl(sd) == f"O:{OWNER}D:(A;;FA;;;SY)(A;;FA;;;OW)"
