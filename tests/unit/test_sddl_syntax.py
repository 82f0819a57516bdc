"""SDDL details beyond the corpora: literals, escapes, ACE kinds, revisions, error columns."""

from __future__ import annotations

import pytest

from lanman.security.conditional import Attr, Int, decode_condition
from lanman.security.descriptor import decode_sd, encode_sd
from lanman.security.errors import SddlError
from lanman.security.explain import explain_sd
from lanman.security.sddl_parse import parse_sddl
from lanman.security.sddl_write import sd_to_sddl


def canon(text: str, dom: str | None = None) -> str:
    sd = parse_sddl(text, dom)
    out = sd_to_sddl(sd, dom)
    assert sd_to_sddl(decode_sd(encode_sd(sd)), dom) == out
    return out


@pytest.mark.parametrize(
    "cond,expected",
    [
        ("(@User.x == -0x10)", "(@USER.x == -0x10)"),
        ("(@User.x == +010)", "(@USER.x == +010)"),
        ("(@User.x == -5)", "(@USER.x == -5)"),
        ("(@User.x == 0)", "(@USER.x == 0)"),
        ("(@User.x == #abc)", "(@USER.x == #0abc)"),
        ("(@User.a%0020b == 1)", "(@USER.a%0020b == 1)"),
        ("(@User.x Not_Contains {1, 2})", "(@USER.x Not_Contains {1, 2})"),
        ("(Exists @Device.x)", "(Exists @DEVICE.x)"),
        ("(Not_Exists x)", "(Not_Exists x)"),
        ("(Not_Device_Member_of_Any {SID(BA)})", "(Not_Device_Member_of_any {SID(BA)})"),
        ("(@User.x<=@Resource.y)", "(@USER.x <= @RESOURCE.y)"),
    ],
)
def test_condition_forms(cond: str, expected: str) -> None:
    assert canon(f"D:(XA;;CR;;;WD;{cond})") == f"D:(XA;;CR;;;WD;{expected})"


def test_escape_decodes_to_the_character() -> None:
    sd = parse_sddl("D:(XA;;CR;;;WD;(@User.a%0020b))")
    assert decode_condition(sd.dacl.aces[0].application_data) == Attr(0xF9, "a b")
    node = decode_condition(
        parse_sddl("D:(XA;;CR;;;WD;(@User.x == -0x10))").dacl.aces[0].application_data
    )
    assert node.operands[1] == Int(-16, 2, 3)


@pytest.mark.parametrize(
    "text",
    [
        'S:(RA;;;;;WD;("n",TI,0x0,-5,7))',
        'S:(RA;;;;;WD;("n",TU,0x0,18446744073709551615))',
        'S:(RA;;;;;WD;("n",TB,0x0,0,1))',
        'S:(RA;;;;;WD;("n",TD,0x0,BA,S-1-5-21-9-9-9-1000))',
        'S:(RA;;;;;WD;("n",TX,0x10,#00ff))',
        'S:(RA;;;;;WD;("a%0020b%0022",TS,0x0))',
    ],
)
def test_resource_attribute_types(text: str) -> None:
    assert canon(text) == text


def test_object_callback_ace_uses_acl_revision_4() -> None:
    text = "D:(ZA;CI;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD;(@USER.x == 1))"
    blob = encode_sd(parse_sddl(text))
    assert blob[20] == 4  # ACL_REVISION_DS
    assert canon(text) == text
    assert encode_sd(parse_sddl("D:(XA;;CR;;;WD;(@USER.x == 1))"))[20] == 2


def test_label_and_scoped_policy_aces() -> None:
    assert canon("S:(ML;;NWNR;;;LW)") == "S:(ML;;NWNR;;;LW)"
    assert canon("S:(SP;;;;;S-1-17-1)(AU;SAFA;FA;;;WD)") == "S:(SP;;;;;S-1-17-1)(AU;SAFA;FA;;;WD)"
    assert canon("D:PAINO_ACCESS_CONTROL") == "D:PAINO_ACCESS_CONTROL"


@pytest.mark.parametrize(
    "text,column,fragment",
    [
        ("D:(A;;FA;;;WD", 14, "not closed"),
        ("D:(A;;QQ;;;WD)", 7, "unknown right"),
        ('D:(XA;;FA;;;WD;(@User.x == "abc))', 28, "not closed"),
        ("D:(XA;;FA;;;WD;(@User.x == 1 &&))", 32, "expected an attribute"),
        ("D:(XA;;FA;;;WD;(@Usr.x == 1))", 17, "@User."),
        ("D:(XA;;FA;;;WD;(Member_of {SID(XX)}))", 32, "neither a SID"),
        ("D:(XA;;FA;;;WD;(@User.x == 99999999999999999999))", 28, "64 bits"),
        ("D:(OA;;CR;not-a-guid;;WD)", 11, "GUID"),
        ("X:", 1, "expected O:"),
    ],
)
def test_error_columns(text: str, column: int, fragment: str) -> None:
    with pytest.raises(SddlError) as info:
        parse_sddl(text)
    assert info.value.column == column, info.value
    assert fragment in info.value.message


def test_explain_words() -> None:
    info = explain_sd(
        parse_sddl(
            "O:SYD:(XA;;CR;;;WD;(Member_of {SID(BA), SID(DA)} && !(@Device.managed)))",
            "S-1-5-21-1-2-3",
        ),
        "S-1-5-21-1-2-3",
    )
    ace = info["dacl"]["aces"][0]
    assert ace["who"] == "everyone (WD, S-1-1-0)"
    assert ace["rights"] == "control access (CR)"
    assert (
        "every one of: builtin administrators (BA, S-1-5-32-544), domain admins" in ace["condition"]
    )
    assert "not (the device's claim 'managed' is set" in ace["condition"]
