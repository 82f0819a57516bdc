"""MS-FSCC information classes (lanman.smb.wire.fileinfo), checked against smbprotocol's
independent structure definitions where it has them."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from smbprotocol import file_info as sp
from smbprotocol.security_descriptor import SMB2CreateSDBuffer

from lanman.errors.ntstatus import (
    STATUS_BUFFER_OVERFLOW,
    STATUS_INFO_LENGTH_MISMATCH,
    STATUS_INVALID_INFO_CLASS,
    STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_SUCCESS,
    NtStatusError,
)
from lanman.smb.filestat import (
    FILE_ATTRIBUTE_ARCHIVE,
    FILE_ATTRIBUTE_DIRECTORY,
    FileStat,
)
from lanman.smb.wire import fileinfo as fi

FILE = FileStat(
    name="report.txt",
    creation_time=132_000_000_000_000_001,
    last_access_time=132_000_000_000_000_002,
    last_write_time=132_000_000_000_000_003,
    change_time=132_000_000_000_000_004,
    allocation_size=8192,
    end_of_file=5000,
    file_attributes=FILE_ATTRIBUTE_ARCHIVE,
    file_id=0x1122334455667788,
    number_of_links=2,
    delete_pending=True,
)
DIR = FileStat(
    name="docs",
    creation_time=1,
    last_access_time=2,
    last_write_time=3,
    change_time=4,
    allocation_size=0,
    end_of_file=0,
    file_attributes=FILE_ATTRIBUTE_DIRECTORY,
    file_id=77,
)


def enc(cls: int, st: FileStat = FILE, **kw: object) -> bytes:
    args: dict = {"access_mask": 0x1F01FF, "position": 0, "mode": 0, "smb_path": "dir\\report.txt"}
    args.update(kw)
    return fi.encode_file_info(cls, st, **args)


def unpack(structure: object, data: bytes) -> object:
    structure.unpack(data)  # type: ignore[attr-defined]
    return structure


# -- QUERY_INFO file classes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "size"),
    [
        (fi.FILE_BASIC_INFORMATION, 40),
        (fi.FILE_STANDARD_INFORMATION, 24),
        (fi.FILE_INTERNAL_INFORMATION, 8),
        (fi.FILE_EA_INFORMATION, 4),
        (fi.FILE_ACCESS_INFORMATION, 4),
        (fi.FILE_POSITION_INFORMATION, 8),
        (fi.FILE_MODE_INFORMATION, 4),
        (fi.FILE_ALIGNMENT_INFORMATION, 4),
        (fi.FILE_COMPRESSION_INFORMATION, 16),
        (fi.FILE_NETWORK_OPEN_INFORMATION, 56),
        (fi.FILE_ATTRIBUTE_TAG_INFORMATION, 8),
        (fi.FILE_ID_INFORMATION, 24),
        (fi.FILE_NAME_INFORMATION, 4 + 2 * len("\\dir\\report.txt")),
        (fi.FILE_NORMALIZED_NAME_INFORMATION, 4 + 2 * len("dir\\report.txt")),
        (fi.FILE_ALL_INFORMATION, 100 + 2 * len("\\dir\\report.txt")),
        (fi.FILE_STREAM_INFORMATION, 24 + 14),
    ],
)
def test_file_info_sizes(cls: int, size: int) -> None:
    assert len(enc(cls)) == size


def test_basic_matches_smbprotocol() -> None:
    s = unpack(sp.FileBasicInformation(), enc(fi.FILE_BASIC_INFORMATION))
    assert s["creation_time"].get_value() == FILE.creation_time
    assert s["last_access_time"].get_value() == FILE.last_access_time
    assert s["last_write_time"].get_value() == FILE.last_write_time
    assert s["change_time"].get_value() == FILE.change_time
    assert s["file_attributes"].get_value() == FILE_ATTRIBUTE_ARCHIVE


def test_standard_matches_smbprotocol() -> None:
    s = unpack(sp.FileStandardInformation(), enc(fi.FILE_STANDARD_INFORMATION))
    assert s["allocation_size"].get_value() == 8192
    assert s["end_of_file"].get_value() == 5000
    assert s["number_of_links"].get_value() == 2
    assert s["delete_pending"].get_value() is True
    assert s["directory"].get_value() is False
    d = unpack(sp.FileStandardInformation(), enc(fi.FILE_STANDARD_INFORMATION, DIR))
    assert d["directory"].get_value() is True


def test_all_information_matches_smbprotocol() -> None:
    data = enc(fi.FILE_ALL_INFORMATION, access_mask=0x120089, position=1234, mode=0x20)
    s = unpack(sp.FileAllInformation(), data)
    assert s["basic_information"].get_value()["last_write_time"].get_value() == (
        FILE.last_write_time
    )
    assert s["standard_information"].get_value()["end_of_file"].get_value() == 5000
    assert s["internal_information"].get_value()["index_number"].get_value() == FILE.file_id
    assert s["access_information"].get_value()["access_flags"].get_value() == 0x120089
    assert s["position_information"].get_value()["current_byte_offset"].get_value() == 1234
    assert s["mode_information"].get_value()["mode"].get_value() == 0x20
    assert s["name_information"].get_value()["file_name"].get_value() == "\\dir\\report.txt"


def test_network_open_layout() -> None:
    data = enc(fi.FILE_NETWORK_OPEN_INFORMATION)
    assert struct.unpack("<qqqqqqII", data) == (
        FILE.creation_time,
        FILE.last_access_time,
        FILE.last_write_time,
        FILE.change_time,
        8192,
        5000,
        FILE_ATTRIBUTE_ARCHIVE,
        0,
    )


def test_small_fixed_classes_match_smbprotocol() -> None:
    assert (
        unpack(sp.FileInternalInformation(), enc(fi.FILE_INTERNAL_INFORMATION))[
            "index_number"
        ].get_value()
        == FILE.file_id
    )
    assert unpack(sp.FileEaInformation(), enc(fi.FILE_EA_INFORMATION))["ea_size"].get_value() == 0
    acc = unpack(sp.FileAccessInformation(), enc(fi.FILE_ACCESS_INFORMATION, access_mask=0x80))
    assert acc["access_flags"].get_value() == 0x80
    pos = unpack(sp.FilePositionInformation(), enc(fi.FILE_POSITION_INFORMATION, position=99))
    assert pos["current_byte_offset"].get_value() == 99
    mode = unpack(sp.FileModeInformation(), enc(fi.FILE_MODE_INFORMATION, mode=0x2))
    assert mode["mode"].get_value() == 0x2
    tag = unpack(sp.FileAttributeTagInformation(), enc(fi.FILE_ATTRIBUTE_TAG_INFORMATION))
    assert tag["file_attributes"].get_value() == FILE_ATTRIBUTE_ARCHIVE
    assert tag["reparse_tag"].get_value() == 0


def test_name_classes() -> None:
    s = unpack(sp.FileNameInformation(), enc(fi.FILE_NAME_INFORMATION))
    assert s["file_name"].get_value() == "\\dir\\report.txt"
    n = unpack(sp.FileNameInformation(), enc(fi.FILE_NORMALIZED_NAME_INFORMATION))
    assert n["file_name"].get_value() == "dir\\report.txt"
    root = unpack(sp.FileNameInformation(), enc(fi.FILE_NAME_INFORMATION, smb_path=""))
    assert root["file_name"].get_value() == "\\"


def test_stream_information() -> None:
    s = unpack(sp.FileStreamInformation(), enc(fi.FILE_STREAM_INFORMATION))
    assert s["stream_name"].get_value() == "::$DATA"
    assert s["stream_size"].get_value() == 5000
    assert s["stream_allocation_size"].get_value() == 8192
    assert s["next_entry_offset"].get_value() == 0
    assert enc(fi.FILE_STREAM_INFORMATION, DIR) == b""


def test_file_id_information() -> None:
    data = enc(fi.FILE_ID_INFORMATION, volume_serial=0xABCD)
    serial, fid = struct.unpack("<Q16s", data)
    assert serial == 0xABCD
    assert int.from_bytes(fid, "little") == FILE.file_id


def test_alternate_name_not_found_and_unknown_class() -> None:
    with pytest.raises(NtStatusError) as e:
        enc(fi.FILE_ALTERNATE_NAME_INFORMATION)
    assert e.value.status == STATUS_OBJECT_NAME_NOT_FOUND
    for cls in (0, 3, 10, 19, 200):
        with pytest.raises(NtStatusError) as e:
            enc(cls)
        assert e.value.status == STATUS_INVALID_INFO_CLASS


def test_fit_query_output() -> None:
    basic = enc(fi.FILE_BASIC_INFORMATION)
    assert fi.fit_query_output(fi.FILE_BASIC_INFORMATION, basic, 40) == (basic, STATUS_SUCCESS)
    with pytest.raises(NtStatusError) as e:
        fi.fit_query_output(fi.FILE_BASIC_INFORMATION, basic, 39)
    assert e.value.status == STATUS_INFO_LENGTH_MISMATCH
    full = enc(fi.FILE_ALL_INFORMATION)
    data, status = fi.fit_query_output(fi.FILE_ALL_INFORMATION, full, 104)
    assert status == STATUS_BUFFER_OVERFLOW and data == full[:104]
    for short in (99, 103):  # Windows: BlockAlign(sizeof(FILE_ALL_INFORMATION), 8) = 104
        with pytest.raises(NtStatusError) as e:
            fi.fit_query_output(fi.FILE_ALL_INFORMATION, full, short)
        assert e.value.status == STATUS_INFO_LENGTH_MISMATCH
    name = enc(fi.FILE_NAME_INFORMATION)
    data, status = fi.fit_query_output(fi.FILE_NAME_INFORMATION, name, 8)
    assert status == STATUS_BUFFER_OVERFLOW and len(data) == 8
    # FileNameLength still announces the full length so the client can retry.
    assert struct.unpack_from("<I", data)[0] == len(name) - 4
    for short in (3, 7):  # the name classes need 8 (4 + one WCHAR, padded to 8)
        with pytest.raises(NtStatusError) as e:
            fi.fit_query_output(fi.FILE_NAME_INFORMATION, name, short)
        assert e.value.status == STATUS_INFO_LENGTH_MISMATCH
    streams = b"\x00" * 40
    with pytest.raises(NtStatusError) as e:
        fi.fit_query_output(fi.FILE_STREAM_INFORMATION, streams, 31)
    assert e.value.status == STATUS_INFO_LENGTH_MISMATCH
    assert fi.fit_query_output(fi.FILE_STREAM_INFORMATION, streams, 32)[1] == STATUS_BUFFER_OVERFLOW


# -- FILESYSTEM classes -----------------------------------------------------------------------

FS_ARGS = {
    "total_bytes": 100 * 4096,
    "free_bytes": 40 * 4096,
    "volume_label": "share",
    "volume_serial": 0xDEADBEEF,
    "creation_time": 132_000_000_000_000_000,
}


@pytest.mark.parametrize(
    ("cls", "size"),
    [
        (fi.FILE_FS_VOLUME_INFORMATION, 18 + 10),
        (fi.FILE_FS_SIZE_INFORMATION, 24),
        (fi.FILE_FS_DEVICE_INFORMATION, 8),
        (fi.FILE_FS_ATTRIBUTE_INFORMATION, 12 + 8),
        (fi.FILE_FS_FULL_SIZE_INFORMATION, 32),
        (fi.FILE_FS_OBJECT_ID_INFORMATION, 64),
        (fi.FILE_FS_SECTOR_SIZE_INFORMATION, 28),
    ],
)
def test_fs_info_sizes(cls: int, size: int) -> None:
    assert len(fi.encode_fs_info(cls, **FS_ARGS)) == size


def test_fs_volume_and_full_size_match_smbprotocol() -> None:
    v = unpack(sp.FileFsVolumeInformation(), fi.encode_fs_info(1, **FS_ARGS))
    assert v["volume_serial_number"].get_value() == 0xDEADBEEF
    assert v["volume_label"].get_value() == "share"
    f = unpack(
        sp.FileFsFullSizeInformation(),
        fi.encode_fs_info(7, caller_free_bytes=10 * 4096, **FS_ARGS),
    )
    assert f["total_allocation_units"].get_value() == 100
    assert f["caller_available_units"].get_value() == 10
    assert f["actual_available_units"].get_value() == 40
    assert f["sectors_per_unit"].get_value() == 8
    assert f["bytes_per_sector"].get_value() == 512


def test_fs_attribute_and_device() -> None:
    data = fi.encode_fs_info(fi.FILE_FS_ATTRIBUTE_INFORMATION, read_only=True, **FS_ARGS)
    attrs, max_comp, name_len = struct.unpack_from("<IiI", data)
    assert attrs & fi.FILE_CASE_PRESERVED_NAMES and attrs & fi.FILE_UNICODE_ON_DISK
    assert attrs & fi.FILE_READ_ONLY_VOLUME
    # what lanman keeps per file: descriptors and named streams (as NTFS says)
    assert attrs & fi.FILE_PERSISTENT_ACLS and attrs & fi.FILE_NAMED_STREAMS
    assert attrs & fi.FILE_SUPPORTS_EXTENDED_ATTRIBUTES
    assert max_comp == 255 and data[12:].decode("utf-16-le") == "NTFS" and name_len == 8
    dev, chars = struct.unpack("<II", fi.encode_fs_info(4, **FS_ARGS))
    assert dev == fi.FILE_DEVICE_DISK and not chars & fi.FILE_READ_ONLY_DEVICE


def test_fs_unknown_classes() -> None:
    with pytest.raises(NtStatusError) as e:
        fi.encode_fs_info(99, **FS_ARGS)
    assert e.value.status == STATUS_INVALID_INFO_CLASS
    with pytest.raises(NtStatusError) as e:
        fi.encode_fs_info(fi.FILE_FS_CONTROL_INFORMATION, **FS_ARGS)
    assert e.value.status == STATUS_NOT_SUPPORTED


# -- security descriptor ----------------------------------------------------------------------


def test_security_descriptor_full() -> None:
    data = fi.encode_security_descriptor(DIR, 0x7)
    sd = SMB2CreateSDBuffer()
    sd.unpack(data)
    assert str(sd.get_owner()) == "S-1-5-32-544"
    assert str(sd.get_group()) == "S-1-5-32-545"
    assert sd.get_sacl() is None
    dacl = sd.get_dacl()
    aces = dacl["aces"].get_value()
    assert len(aces) == 1
    ace = aces[0]
    assert ace["mask"].get_value() == 0x1F01FF
    assert str(ace["sid"].get_value()) == "S-1-1-0"
    assert ace["ace_flags"].get_value() == 0x3  # OI|CI on a directory
    control = struct.unpack_from("<H", data, 2)[0]
    assert control & 0x8000 and control & 0x0004


def test_security_descriptor_parts() -> None:
    only_dacl = fi.encode_security_descriptor(FILE, fi.DACL_SECURITY_INFORMATION, read_only=True)
    rev, _, control, o, g, s, d = struct.unpack_from("<BBHIIII", only_dacl)
    assert (rev, o, g, s, d) == (1, 0, 0, 0, 20)
    assert struct.unpack_from("<I", only_dacl, 20 + 8 + 4)[0] == fi.FILE_GENERIC_READ_EXECUTE
    owner_only = fi.encode_security_descriptor(FILE, fi.OWNER_SECURITY_INFORMATION | 0x8)
    _, _, control, o, g, s, d = struct.unpack_from("<BBHIIII", owner_only)
    assert (o, g, s, d) == (20, 0, 0, 0) and not control & 0x4
    assert len(owner_only) == 20 + 16
    assert len(fi.encode_security_descriptor(FILE, 0)) == 20


def test_encode_sid() -> None:
    assert fi.encode_sid("S-1-1-0") == bytes([1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    with pytest.raises(ValueError):
        fi.encode_sid("X-1-2")


# -- SET_INFO decoders -------------------------------------------------------------------------


def test_decode_basic() -> None:
    raw = struct.pack("<qqqqII", 0, -1, 132_000_000_000_000_000, -2, 0x21, 0)
    info = fi.decode_set_file_info(fi.FILE_BASIC_INFORMATION, raw)
    assert info == fi.BasicInfo(0, -1, 132_000_000_000_000_000, -2, 0x21)
    assert fi.decode_set_file_info(fi.FILE_BASIC_INFORMATION, raw[:36]) == info
    with pytest.raises(NtStatusError) as e:
        fi.decode_set_file_info(fi.FILE_BASIC_INFORMATION, raw[:35])
    assert e.value.status == STATUS_INFO_LENGTH_MISMATCH
    with pytest.raises(NtStatusError) as e:
        fi.decode_set_file_info(4, struct.pack("<qqqqII", -3, 0, 0, 0, 0, 0))
    assert e.value.status == STATUS_INVALID_PARAMETER


def rename_buf(name: str, replace: int = 1, root: int = 0, name_len: int | None = None) -> bytes:
    raw = name.encode("utf-16-le")
    n = len(raw) if name_len is None else name_len
    return struct.pack("<B7xQI", replace, root, n) + raw


def test_decode_rename_against_smbprotocol() -> None:
    s = sp.FileRenameInformation()
    s["replace_if_exists"] = True
    s["file_name"] = "new\\name.txt".encode("utf-16-le")
    info = fi.decode_set_file_info(fi.FILE_RENAME_INFORMATION, s.pack())
    assert info == fi.RenameInfo(True, 0, "new\\name.txt", 0)


@pytest.mark.parametrize(
    ("buf", "status"),
    [
        (b"\x00" * 19, STATUS_INFO_LENGTH_MISMATCH),
        (rename_buf("a", root=5), STATUS_INVALID_PARAMETER),
        (rename_buf("", name_len=0), STATUS_INVALID_PARAMETER),
        (rename_buf("ab", name_len=3), STATUS_INVALID_PARAMETER),
        (rename_buf("ab", name_len=0xFFFFFFFE), STATUS_INVALID_PARAMETER),
        (rename_buf("ab", name_len=8), STATUS_INFO_LENGTH_MISMATCH),
        (struct.pack("<B7xQI", 0, 0, 2) + b"\x00\xd8", STATUS_OBJECT_NAME_INVALID),
    ],
)
def test_decode_rename_hostile(buf: bytes, status: int) -> None:
    with pytest.raises(NtStatusError) as e:
        fi.decode_set_file_info(fi.FILE_RENAME_INFORMATION, buf)
    assert e.value.status == status


def test_decode_rename_ex() -> None:
    raw = "x".encode("utf-16-le")
    buf = struct.pack("<I4xQI", fi.FILE_RENAME_REPLACE_IF_EXISTS | 0x2, 0, len(raw)) + raw
    info = fi.decode_set_file_info(fi.FILE_RENAME_INFORMATION_EX, buf)
    assert info == fi.RenameInfo(True, 0, "x", 0x3)
    plain = fi.decode_set_file_info(fi.FILE_RENAME_INFORMATION, rename_buf("y", replace=0))
    assert plain.replace_if_exists is False  # type: ignore[union-attr]


def test_decode_small_classes() -> None:
    d = fi.decode_set_file_info
    assert d(fi.FILE_DISPOSITION_INFORMATION, b"\x01") == fi.DispositionInfo(True)
    assert d(fi.FILE_DISPOSITION_INFORMATION, b"\x00") == fi.DispositionInfo(False)
    assert d(fi.FILE_DISPOSITION_INFORMATION_EX, struct.pack("<I", 3)) == fi.DispositionInfo(
        True, 3
    )
    assert d(fi.FILE_POSITION_INFORMATION, struct.pack("<q", 10)) == fi.PositionInfo(10)
    assert d(fi.FILE_MODE_INFORMATION, struct.pack("<I", 0x2)) == fi.ModeInfo(2)
    assert d(fi.FILE_ALLOCATION_INFORMATION, struct.pack("<q", 4096)) == fi.AllocationInfo(4096)
    assert d(fi.FILE_END_OF_FILE_INFORMATION, struct.pack("<q", 7)) == fi.EndOfFileInfo(7)
    bad = [
        (fi.FILE_DISPOSITION_INFORMATION, b"", STATUS_INFO_LENGTH_MISMATCH),
        (fi.FILE_DISPOSITION_INFORMATION_EX, b"\x01", STATUS_INFO_LENGTH_MISMATCH),
        (fi.FILE_POSITION_INFORMATION, struct.pack("<q", -1), STATUS_INVALID_PARAMETER),
        (fi.FILE_END_OF_FILE_INFORMATION, struct.pack("<q", -5), STATUS_INVALID_PARAMETER),
        (fi.FILE_END_OF_FILE_INFORMATION, b"\x00" * 7, STATUS_INFO_LENGTH_MISMATCH),
        (fi.FILE_ALLOCATION_INFORMATION, struct.pack("<q", -1), STATUS_INVALID_PARAMETER),
        (fi.FILE_MODE_INFORMATION, struct.pack("<I", 0x1), STATUS_INVALID_PARAMETER),
        (fi.FILE_MODE_INFORMATION, struct.pack("<I", 0x30), STATUS_INVALID_PARAMETER),
        (fi.FILE_STANDARD_INFORMATION, b"\x00" * 24, STATUS_INVALID_INFO_CLASS),
    ]
    for cls, buf, status in bad:
        with pytest.raises(NtStatusError) as e:
            d(cls, buf)
        assert e.value.status == status, (cls, buf)


def test_decoders_accept_memoryview() -> None:
    mv = memoryview(bytearray(rename_buf("z")))
    assert fi.decode_set_file_info(fi.FILE_RENAME_INFORMATION, mv).file_name == "z"  # type: ignore[union-attr]


# -- QUERY_DIRECTORY entries ------------------------------------------------------------------


def entries(n: int) -> list[FileStat]:
    out = []
    for i in range(n):
        out.append(
            FileStat(
                name=f"file{i}" + "x" * (i % 3),
                creation_time=10 + i,
                last_access_time=20 + i,
                last_write_time=30 + i,
                change_time=40 + i,
                allocation_size=4096 * i,
                end_of_file=100 * i,
                file_attributes=FILE_ATTRIBUTE_ARCHIVE,
                file_id=1000 + i,
            )
        )
    return out


DIR_CLASSES = {
    fi.FILE_DIRECTORY_INFORMATION: (sp.FileDirectoryInformation, 64),
    fi.FILE_FULL_DIRECTORY_INFORMATION: (sp.FileFullDirectoryInformation, 68),
    fi.FILE_BOTH_DIRECTORY_INFORMATION: (sp.FileBothDirectoryInformation, 94),
    fi.FILE_NAMES_INFORMATION: (sp.FileNamesInformation, 12),
    fi.FILE_ID_BOTH_DIRECTORY_INFORMATION: (sp.FileIdBothDirectoryInformation, 104),
    fi.FILE_ID_FULL_DIRECTORY_INFORMATION: (sp.FileIdFullDirectoryInformation, 80),
}


def walk(buf: bytes) -> list[int]:
    offs, off = [], 0
    while True:
        offs.append(off)
        nxt = struct.unpack_from("<I", buf, off)[0]
        if nxt == 0:
            return offs
        off += nxt


@pytest.mark.parametrize("cls", sorted(DIR_CLASSES))
def test_directory_entries_against_smbprotocol(cls: int) -> None:
    structure, header = DIR_CLASSES[cls]
    ents = entries(5)
    buf, count = fi.encode_directory_entries(cls, ents, 65536)
    assert count == 5
    offs = walk(buf)
    assert len(offs) == 5
    assert all(o % 8 == 0 for o in offs)
    for i, off in enumerate(offs):
        s = structure()
        s.unpack(buf[off:])
        assert s["file_name"].get_value() == ents[i].name.encode("utf-16-le")
        if cls != fi.FILE_NAMES_INFORMATION:
            assert s["end_of_file"].get_value() == ents[i].end_of_file
            assert s["allocation_size"].get_value() == ents[i].allocation_size
            assert s["file_attributes"].get_value() == FILE_ATTRIBUTE_ARCHIVE
        if "file_id" in s.fields:
            assert s["file_id"].get_value() == ents[i].file_id
        if "ea_size" in s.fields:
            assert s["ea_size"].get_value() == 0
    # Last entry is not padded.
    assert len(buf) == offs[-1] + header + 2 * len(ents[-1].name)


def test_id_extd_directory_layout() -> None:
    buf, count = fi.encode_directory_entries(fi.FILE_ID_EXTD_DIRECTORY_INFORMATION, entries(1), 512)
    assert count == 1 and len(buf) == 88 + 2 * len("file0")
    assert struct.unpack_from("<Q", buf, 72)[0] == 1000
    assert buf[88:].decode("utf-16-le") == "file0"


def test_directory_entries_truncate_at_max_len() -> None:
    ents = entries(10)
    full, n = fi.encode_directory_entries(fi.FILE_ID_BOTH_DIRECTORY_INFORMATION, ents, 1 << 20)
    assert n == 10
    offs = walk(full)
    limit = offs[4] + 104 + 2 * len(ents[4].name)  # exactly five entries
    buf, count = fi.encode_directory_entries(fi.FILE_ID_BOTH_DIRECTORY_INFORMATION, ents, limit)
    assert count == 5 and len(buf) == limit
    buf2, count2 = fi.encode_directory_entries(
        fi.FILE_ID_BOTH_DIRECTORY_INFORMATION, ents, limit - 1
    )
    assert count2 == 4 and len(walk(buf2)) == 4


def test_directory_first_entry_does_not_fit() -> None:
    ents = entries(1)
    assert fi.encode_directory_entries(fi.FILE_DIRECTORY_INFORMATION, ents, 64) == (b"", 0)
    assert fi.directory_no_fit_status(fi.FILE_DIRECTORY_INFORMATION, 63) == (
        STATUS_INFO_LENGTH_MISMATCH
    )
    assert fi.directory_no_fit_status(fi.FILE_DIRECTORY_INFORMATION, 64) == STATUS_BUFFER_OVERFLOW
    assert fi.encode_directory_entries(fi.FILE_DIRECTORY_INFORMATION, [], 4096) == (b"", 0)
    with pytest.raises(NtStatusError) as e:
        fi.encode_directory_entries(fi.FILE_BASIC_INFORMATION, ents, 4096)
    assert e.value.status == STATUS_INVALID_INFO_CLASS


# -- hostile input ----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    cls=hst.sampled_from([4, 10, 13, 14, 16, 19, 20, 64, 65, 0, 255]),
    buf=hst.binary(max_size=80),
)
def test_set_info_decoders_only_raise_ntstatus(cls: int, buf: bytes) -> None:
    try:
        info = fi.decode_set_file_info(cls, buf)
    except NtStatusError:
        return
    if isinstance(info, fi.RenameInfo):
        assert 0 < len(info.file_name) * 2 <= len(buf) - 20


@settings(max_examples=200, deadline=None)
@given(
    cls=hst.sampled_from(sorted(fi.QUERY_DIRECTORY_CLASSES)),
    names=hst.lists(hst.text(min_size=1, max_size=40), max_size=12),
    max_len=hst.integers(min_value=0, max_value=2048),
)
def test_directory_entries_always_fit(cls: int, names: list[str], max_len: int) -> None:
    ents = [FileStat(n, 0, 0, 0, 0, 0, 0, FILE_ATTRIBUTE_ARCHIVE, i) for i, n in enumerate(names)]
    buf, count = fi.encode_directory_entries(cls, ents, max_len)
    assert len(buf) <= max_len and 0 <= count <= len(ents)
    if count:
        assert len(walk(buf)) == count
