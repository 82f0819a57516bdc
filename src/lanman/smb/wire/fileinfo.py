"""MS-FSCC information classes for SMB2 QUERY_INFO, SET_INFO and QUERY_DIRECTORY.

Sans-IO: every function takes values in and gives ``bytes`` (or small dataclasses) out.
All integers are little-endian (MS-FSCC 2.1). Layouts are packed with precompiled
:class:`struct.Struct` objects straight into one ``bytearray`` per response, so no
payload is copied more than once (docs/ARCHITECTURE.md rule 5). Every length read from the
wire is bounded before use (principle 6).

Sections cited below are MS-FSCC unless stated otherwise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

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
from lanman.smb.filestat import FileStat

# ---------------------------------------------------------------------------------------------
# Information class numbers (MS-FSCC 2.4 file classes, 2.5 file system classes)
# ---------------------------------------------------------------------------------------------

FILE_DIRECTORY_INFORMATION = 1
FILE_FULL_DIRECTORY_INFORMATION = 2
FILE_BOTH_DIRECTORY_INFORMATION = 3
FILE_BASIC_INFORMATION = 4
FILE_STANDARD_INFORMATION = 5
FILE_INTERNAL_INFORMATION = 6
FILE_EA_INFORMATION = 7
FILE_ACCESS_INFORMATION = 8
FILE_NAME_INFORMATION = 9
FILE_RENAME_INFORMATION = 10
FILE_NAMES_INFORMATION = 12
FILE_DISPOSITION_INFORMATION = 13
FILE_POSITION_INFORMATION = 14
FILE_FULL_EA_INFORMATION = 15
FILE_MODE_INFORMATION = 16
FILE_ALIGNMENT_INFORMATION = 17
FILE_ALL_INFORMATION = 18
FILE_ALLOCATION_INFORMATION = 19
FILE_END_OF_FILE_INFORMATION = 20
FILE_ALTERNATE_NAME_INFORMATION = 21
FILE_STREAM_INFORMATION = 22
FILE_COMPRESSION_INFORMATION = 28
FILE_NETWORK_OPEN_INFORMATION = 34
FILE_ATTRIBUTE_TAG_INFORMATION = 35
FILE_ID_BOTH_DIRECTORY_INFORMATION = 37
FILE_ID_FULL_DIRECTORY_INFORMATION = 38
FILE_NORMALIZED_NAME_INFORMATION = 48
FILE_ID_INFORMATION = 59
FILE_ID_EXTD_DIRECTORY_INFORMATION = 60
FILE_DISPOSITION_INFORMATION_EX = 64
FILE_RENAME_INFORMATION_EX = 65

FILE_FS_VOLUME_INFORMATION = 1
FILE_FS_LABEL_INFORMATION = 2
FILE_FS_SIZE_INFORMATION = 3
FILE_FS_DEVICE_INFORMATION = 4
FILE_FS_ATTRIBUTE_INFORMATION = 5
FILE_FS_CONTROL_INFORMATION = 6
FILE_FS_FULL_SIZE_INFORMATION = 7
FILE_FS_OBJECT_ID_INFORMATION = 8
FILE_FS_SECTOR_SIZE_INFORMATION = 11

# MS-FSCC 2.5.1 FileSystemAttributes
FILE_CASE_SENSITIVE_SEARCH = 0x00000001
FILE_CASE_PRESERVED_NAMES = 0x00000002
FILE_UNICODE_ON_DISK = 0x00000004
FILE_PERSISTENT_ACLS = 0x00000008
FILE_SUPPORTS_SPARSE_FILES = 0x00000040
FILE_NAMED_STREAMS = 0x00040000
FILE_READ_ONLY_VOLUME = 0x00080000
FILE_SUPPORTS_EXTENDED_ATTRIBUTES = 0x00800000

# MS-FSCC 2.5.10 FileFsDeviceInformation
FILE_DEVICE_DISK = 0x00000007
FILE_READ_ONLY_DEVICE = 0x00000002
FILE_DEVICE_IS_MOUNTED = 0x00000020

# MS-FSCC 2.5.7 SSINFO flags
SSINFO_FLAGS_ALIGNED_DEVICE = 0x00000001
SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE = 0x00000002

# MS-FSCC 2.4.3 FileAlignmentInformation: FILE_BYTE_ALIGNMENT
FILE_BYTE_ALIGNMENT = 0

# MS-FSCC 2.4.26 FileModeInformation bits
FILE_WRITE_THROUGH = 0x00000002
FILE_SEQUENTIAL_ONLY = 0x00000004
FILE_NO_INTERMEDIATE_BUFFERING = 0x00000008
FILE_SYNCHRONOUS_IO_ALERT = 0x00000010
FILE_SYNCHRONOUS_IO_NONALERT = 0x00000020
FILE_DELETE_ON_CLOSE_MODE = 0x00001000
_VALID_MODE_BITS = (
    FILE_WRITE_THROUGH
    | FILE_SEQUENTIAL_ONLY
    | FILE_NO_INTERMEDIATE_BUFFERING
    | FILE_SYNCHRONOUS_IO_ALERT
    | FILE_SYNCHRONOUS_IO_NONALERT
    | FILE_DELETE_ON_CLOSE_MODE
)

# MS-FSCC 2.4.12 FileDispositionInformationEx flags
FILE_DISPOSITION_DO_NOT_DELETE = 0x00000000
FILE_DISPOSITION_DELETE = 0x00000001
FILE_DISPOSITION_POSIX_SEMANTICS = 0x00000002
FILE_DISPOSITION_FORCE_IMAGE_SECTION_CHECK = 0x00000004
FILE_DISPOSITION_ON_CLOSE = 0x00000008
FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE = 0x00000010

# MS-FSCC 2.4.42.2 / FileRenameInformationEx flags
FILE_RENAME_REPLACE_IF_EXISTS = 0x00000001
FILE_RENAME_POSIX_SEMANTICS = 0x00000002

# MS-DTYP 2.4.7 SECURITY_INFORMATION (SMB2 QUERY_INFO AdditionalInformation)
OWNER_SECURITY_INFORMATION = 0x00000001
GROUP_SECURITY_INFORMATION = 0x00000002
DACL_SECURITY_INFORMATION = 0x00000004
SACL_SECURITY_INFORMATION = 0x00000008

# MS-DTYP 2.4.3 access masks used in the default DACL
FILE_ALL_ACCESS = 0x001F01FF
FILE_GENERIC_READ_EXECUTE = 0x001200A9

# The stream every file has (MS-FSCC 2.4.43: "::$DATA" is the unnamed data stream)
_DATA_STREAM_NAME = "::$DATA".encode("utf-16-le")

# ---------------------------------------------------------------------------------------------
# Fixed layouts
# ---------------------------------------------------------------------------------------------

_BASIC = struct.Struct("<qqqqII")  # 2.4.7: 4 FILETIMEs, FileAttributes, Reserved = 40
_STANDARD = struct.Struct("<qqIBBH")  # 2.4.41: alloc, eof, links, delete, dir, reserved = 24
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_COMPRESSION = struct.Struct("<qHBBB3x")  # 2.4.9 = 16
_NETWORK_OPEN = struct.Struct("<qqqqqqII")  # 2.4.29 = 56
_ATTRIBUTE_TAG = struct.Struct("<II")  # 2.4.6 = 8
_FILE_ID_INFO = struct.Struct("<Q16s")  # 2.4.24 FileIdInformation = 24
_STREAM = struct.Struct("<IIqq")  # 2.4.43 header = 24

_FS_VOLUME = struct.Struct("<qIIBB")  # 2.5.9 header = 18
_FS_SIZE = struct.Struct("<qqII")  # 2.5.8 = 24
_FS_DEVICE = struct.Struct("<II")  # 2.5.10 = 8
_FS_ATTRIBUTE = struct.Struct("<IiI")  # 2.5.1 header = 12
_FS_FULL_SIZE = struct.Struct("<qqqII")  # 2.5.4 = 32
_FS_OBJECT_ID = struct.Struct("<16s48s")  # 2.5.6 = 64
_FS_SECTOR_SIZE = struct.Struct("<IIIIIII")  # 2.5.7 = 28

# Fixed sizes of the FILE_INFO query classes (MS-SMB2 3.3.5.20.1 length rule)
BASIC_INFO_SIZE = _BASIC.size
STANDARD_INFO_SIZE = _STANDARD.size
NETWORK_OPEN_INFO_SIZE = _NETWORK_OPEN.size
ALL_INFO_FIXED_SIZE = 100  # 40+24+8+4+4+8+4+4 + FileNameLength(4) (2.4.2)

# ---------------------------------------------------------------------------------------------
# QUERY_INFO, SMB2_0_INFO_FILE (MS-SMB2 3.3.5.20.1)
# ---------------------------------------------------------------------------------------------

# Minimum output size of each class: the whole record for fixed classes, the header for the
# variable classes whose data may be truncated with STATUS_BUFFER_OVERFLOW. For those Windows
# wants the size of the structure with its one-character name array, padded to 8 (MS-FSA
# 2.1.5.12: BlockAlign(sizeof(...), 8)): 8 for the name classes, 104 for FileAllInformation,
# 32 for FileStreamInformation (smbtorture smb2.getinfo.qfile_buffercheck).
_FILE_INFO_MIN: dict[int, int] = {
    FILE_BASIC_INFORMATION: 40,
    FILE_STANDARD_INFORMATION: 24,
    FILE_INTERNAL_INFORMATION: 8,
    FILE_EA_INFORMATION: 4,
    FILE_ACCESS_INFORMATION: 4,
    FILE_NAME_INFORMATION: 8,
    FILE_POSITION_INFORMATION: 8,
    FILE_MODE_INFORMATION: 4,
    FILE_ALIGNMENT_INFORMATION: 4,
    FILE_ALL_INFORMATION: 104,
    FILE_ALTERNATE_NAME_INFORMATION: 8,
    FILE_STREAM_INFORMATION: 32,
    FILE_COMPRESSION_INFORMATION: 16,
    FILE_NETWORK_OPEN_INFORMATION: 56,
    FILE_ATTRIBUTE_TAG_INFORMATION: 8,
    FILE_NORMALIZED_NAME_INFORMATION: 8,
    FILE_ID_INFORMATION: 24,
}
_VARIABLE_FILE_INFO = frozenset(
    {
        FILE_NAME_INFORMATION,
        FILE_ALL_INFORMATION,
        FILE_ALTERNATE_NAME_INFORMATION,
        FILE_STREAM_INFORMATION,
        FILE_NORMALIZED_NAME_INFORMATION,
    }
)
QUERY_FILE_INFO_CLASSES = frozenset(_FILE_INFO_MIN)


def _utf16(name: str) -> bytes:
    # Host names that are not valid UTF-16 never reach here through ShareFS (it skips them);
    # surrogatepass keeps a stray one from turning into an exception on the wire path.
    return name.encode("utf-16-le", "surrogatepass")


def _full_name(smb_path: str) -> bytes:
    """FileNameInformation inside a share: the path from the share root with a leading
    backslash, as Windows servers return it (MS-FSCC 2.4.27, MS-SMB2 3.3.5.20.1)."""
    return _utf16("\\" + smb_path.strip("\\"))


def _pack_basic(out: bytearray, off: int, st: FileStat) -> None:
    _BASIC.pack_into(
        out,
        off,
        st.creation_time,
        st.last_access_time,
        st.last_write_time,
        st.change_time,
        st.file_attributes,
        0,
    )


def _pack_standard(out: bytearray, off: int, st: FileStat) -> None:
    is_dir = st.is_directory
    _STANDARD.pack_into(
        out,
        off,
        st.allocation_size,
        st.end_of_file,
        st.number_of_links,
        1 if st.delete_pending else 0,
        1 if is_dir else 0,
        0,
    )


def encode_file_info(
    info_class: int,
    st: FileStat,
    *,
    access_mask: int,
    position: int = 0,
    mode: int = 0,
    smb_path: str = "",
    volume_serial: int = 0,
    streams: list[tuple[str, int, int]] | None = None,
    alternate_name: str | None = None,
    ea_size: int = 0,
) -> bytes:
    """Encode one SMB2_0_INFO_FILE class for QUERY_INFO (MS-SMB2 3.3.5.20.1, MS-FSCC 2.4).

    ``access_mask`` is the open's granted access (FileAccessInformation), ``position`` and
    ``mode`` the open's current byte offset and mode flags, ``smb_path`` the open's path
    relative to the share root, ``streams`` the object's data streams for
    FileStreamInformation (default: the unnamed one of a file), ``alternate_name`` its 8.3
    name, ``ea_size`` the size of its extended attributes (FileEaInformation, FileAll).
    Raises ``NtStatusError(STATUS_INVALID_INFO_CLASS)`` for a class not handled here,
    and ``STATUS_OBJECT_NAME_NOT_FOUND`` for FileAlternateNameInformation without a short
    name.
    """
    if info_class == FILE_BASIC_INFORMATION:  # 2.4.7
        out = bytearray(40)
        _pack_basic(out, 0, st)
        return bytes(out)
    if info_class == FILE_STANDARD_INFORMATION:  # 2.4.41
        out = bytearray(24)
        _pack_standard(out, 0, st)
        return bytes(out)
    if info_class == FILE_INTERNAL_INFORMATION:  # 2.4.22
        return _U64.pack(st.file_id & 0xFFFFFFFFFFFFFFFF)
    if info_class == FILE_EA_INFORMATION:  # 2.4.13
        return _U32.pack(ea_size)
    if info_class == FILE_ACCESS_INFORMATION:  # 2.4.1
        return _U32.pack(access_mask & 0xFFFFFFFF)
    if info_class == FILE_NAME_INFORMATION:  # 2.4.27
        name = _full_name(smb_path)
        return _U32.pack(len(name)) + name
    if info_class == FILE_NORMALIZED_NAME_INFORMATION:  # 2.4.30: share-relative, no leading "\"
        name = _utf16(smb_path.strip("\\"))
        return _U32.pack(len(name)) + name
    if info_class == FILE_POSITION_INFORMATION:  # 2.4.35
        return _I64.pack(position)
    if info_class == FILE_MODE_INFORMATION:  # 2.4.26
        return _U32.pack(mode & 0xFFFFFFFF)
    if info_class == FILE_ALIGNMENT_INFORMATION:  # 2.4.3
        return _U32.pack(FILE_BYTE_ALIGNMENT)
    if info_class == FILE_ALL_INFORMATION:  # 2.4.2
        name = _full_name(smb_path)
        out = bytearray(ALL_INFO_FIXED_SIZE + len(name))
        _pack_basic(out, 0, st)
        _pack_standard(out, 40, st)
        _U64.pack_into(out, 64, st.file_id & 0xFFFFFFFFFFFFFFFF)  # Internal
        _U32.pack_into(out, 72, ea_size)
        _U32.pack_into(out, 76, access_mask & 0xFFFFFFFF)
        _I64.pack_into(out, 80, position)
        _U32.pack_into(out, 88, mode & 0xFFFFFFFF)
        _U32.pack_into(out, 92, FILE_BYTE_ALIGNMENT)
        _U32.pack_into(out, 96, len(name))
        out[100:] = name
        return bytes(out)
    if info_class == FILE_ALTERNATE_NAME_INFORMATION:  # 2.4.5
        if not alternate_name:
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, "no 8.3 short name")
        name = _utf16(alternate_name)
        return _U32.pack(len(name)) + name
    if info_class == FILE_STREAM_INFORMATION:  # 2.4.43
        if streams is None:
            streams = [] if st.is_directory else [("", st.end_of_file, st.allocation_size)]
        return encode_stream_entries(streams)
    if info_class == FILE_COMPRESSION_INFORMATION:  # 2.4.9: COMPRESSION_FORMAT_NONE
        return _COMPRESSION.pack(st.end_of_file, 0, 0, 0, 0)
    if info_class == FILE_NETWORK_OPEN_INFORMATION:  # 2.4.29
        return _NETWORK_OPEN.pack(
            st.creation_time,
            st.last_access_time,
            st.last_write_time,
            st.change_time,
            st.allocation_size,
            st.end_of_file,
            st.file_attributes,
            0,
        )
    if info_class == FILE_ATTRIBUTE_TAG_INFORMATION:  # 2.4.6: ReparseTag 0 (no reparse point)
        return _ATTRIBUTE_TAG.pack(st.file_attributes, 0)
    if info_class == FILE_ID_INFORMATION:  # 2.4.24: 128-bit FileId, low 64 bits = inode
        return _FILE_ID_INFO.pack(
            volume_serial & 0xFFFFFFFFFFFFFFFF,
            (st.file_id & 0xFFFFFFFFFFFFFFFF).to_bytes(16, "little"),
        )
    raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"file info class {info_class}")


def encode_stream_entries(streams: list[tuple[str, int, int]]) -> bytes:
    """FILE_STREAM_INFORMATION entries (MS-FSCC 2.4.43) for ``(name, size, allocation)``;
    name "" is the unnamed stream ``::$DATA``, others become ``:name:$DATA``. Entries are
    8-byte aligned and chained by NextEntryOffset."""
    out = bytearray()
    prev = -1
    for name, size, alloc in streams:
        wire = _DATA_STREAM_NAME if not name else _utf16(f":{name}:$DATA")
        if prev >= 0:
            out.extend(bytes(-len(out) % 8))
            struct.pack_into("<I", out, prev, len(out) - prev)
        prev = len(out)
        out += _STREAM.pack(0, len(wire), size, alloc) + wire
    return bytes(out)


def fit_query_output(info_class: int, data: bytes, output_buffer_length: int) -> tuple[bytes, int]:
    """Apply the OutputBufferLength rule of MS-SMB2 3.3.5.20.1 to an encoded FILE_INFO class.

    Returns ``(data, STATUS_SUCCESS)`` if it fits, ``(truncated, STATUS_BUFFER_OVERFLOW)`` for
    a variable-length class (names, FileAllInformation, streams) whose fixed part fits, and
    raises ``NtStatusError(STATUS_INFO_LENGTH_MISMATCH)`` otherwise.
    """
    if output_buffer_length < 0:
        raise NtStatusError(STATUS_INVALID_PARAMETER, "negative output buffer length")
    if len(data) <= output_buffer_length:
        return data, STATUS_SUCCESS
    minimum = _FILE_INFO_MIN.get(info_class, len(data))
    if info_class in _VARIABLE_FILE_INFO and output_buffer_length >= minimum:
        return data[:output_buffer_length], STATUS_BUFFER_OVERFLOW
    raise NtStatusError(STATUS_INFO_LENGTH_MISMATCH, f"class {info_class} needs {len(data)} bytes")


def fit_output(data: bytes, output_buffer_length: int, *, minimum: int) -> tuple[bytes, int]:
    """The same rule for FILESYSTEM / SECURITY results: truncate to the buffer with
    STATUS_BUFFER_OVERFLOW if at least ``minimum`` bytes fit, else STATUS_INFO_LENGTH_MISMATCH.
    For the security class MS-SMB2 3.3.5.20.3 wants STATUS_BUFFER_TOO_SMALL instead; the
    caller handles that one itself (it needs the size in an error payload)."""
    if len(data) <= output_buffer_length:
        return data, STATUS_SUCCESS
    if output_buffer_length >= minimum:
        return data[:output_buffer_length], STATUS_BUFFER_OVERFLOW
    raise NtStatusError(STATUS_INFO_LENGTH_MISMATCH, f"needs {len(data)} bytes")


# ---------------------------------------------------------------------------------------------
# QUERY_INFO, SMB2_0_INFO_FILESYSTEM (MS-SMB2 3.3.5.20.2, MS-FSCC 2.5)
# ---------------------------------------------------------------------------------------------

FS_INFO_MIN: dict[int, int] = {
    FILE_FS_VOLUME_INFORMATION: 18,
    FILE_FS_SIZE_INFORMATION: 24,
    FILE_FS_DEVICE_INFORMATION: 8,
    FILE_FS_ATTRIBUTE_INFORMATION: 12,
    FILE_FS_FULL_SIZE_INFORMATION: 32,
    FILE_FS_OBJECT_ID_INFORMATION: 64,
    FILE_FS_SECTOR_SIZE_INFORMATION: 28,
}


def encode_fs_info(
    info_class: int,
    *,
    total_bytes: int,
    free_bytes: int,
    volume_label: str,
    volume_serial: int,
    creation_time: int,
    caller_free_bytes: int | None = None,
    read_only: bool = False,
    bytes_per_sector: int = 512,
    sectors_per_unit: int = 8,
    fs_name: str = "NTFS",
) -> bytes:
    """Encode one SMB2_0_INFO_FILESYSTEM class (MS-FSCC 2.5).

    ``free_bytes`` is what the whole volume has free; ``caller_free_bytes`` (default: the same)
    what this user may still use. Sizes are reported in allocation units of
    ``bytes_per_sector * sectors_per_unit`` bytes (4 KiB by default, like NTFS).
    """
    unit = max(1, bytes_per_sector * sectors_per_unit)
    total_units = max(0, total_bytes) // unit
    free_units = max(0, free_bytes) // unit
    caller_units = free_units if caller_free_bytes is None else max(0, caller_free_bytes) // unit
    if info_class == FILE_FS_VOLUME_INFORMATION:  # 2.5.9
        label = _utf16(volume_label)
        return _FS_VOLUME.pack(creation_time, volume_serial & 0xFFFFFFFF, len(label), 0, 0) + label
    if info_class == FILE_FS_SIZE_INFORMATION:  # 2.5.8: AvailableAllocationUnits = caller's
        return _FS_SIZE.pack(total_units, caller_units, sectors_per_unit, bytes_per_sector)
    if info_class == FILE_FS_DEVICE_INFORMATION:  # 2.5.10
        characteristics = FILE_DEVICE_IS_MOUNTED | (FILE_READ_ONLY_DEVICE if read_only else 0)
        return _FS_DEVICE.pack(FILE_DEVICE_DISK, characteristics)
    if info_class == FILE_FS_ATTRIBUTE_INFORMATION:  # 2.5.1
        attrs = (
            FILE_CASE_SENSITIVE_SEARCH
            | FILE_CASE_PRESERVED_NAMES
            | FILE_UNICODE_ON_DISK
            | FILE_SUPPORTS_SPARSE_FILES  # FSCTL_SET_SPARSE / SET_ZERO_DATA (server/fsctl.py)
            # per-file security descriptors kept and enforced (server/filesd.py): Explorer
            # shows its Security tab, robocopy /COPY:S copies them
            | FILE_PERSISTENT_ACLS
            # alternate data streams (server/streams.py): clients keep Zone.Identifier and
            # macOS its AFP_AfpInfo / AFP_Resource there instead of ._ files
            | FILE_NAMED_STREAMS
            | FILE_SUPPORTS_EXTENDED_ATTRIBUTES  # kept in an xattr (server/eas.py)
        )
        if read_only:
            attrs |= FILE_READ_ONLY_VOLUME
        name = _utf16(fs_name)
        return _FS_ATTRIBUTE.pack(attrs, 255, len(name)) + name
    if info_class == FILE_FS_FULL_SIZE_INFORMATION:  # 2.5.4
        return _FS_FULL_SIZE.pack(
            total_units, caller_units, free_units, sectors_per_unit, bytes_per_sector
        )
    if info_class == FILE_FS_OBJECT_ID_INFORMATION:  # 2.5.6: a stable id from the serial
        object_id = (volume_serial & 0xFFFFFFFF).to_bytes(4, "little") + b"lanmanvol\x00\x00\x00"
        return _FS_OBJECT_ID.pack(object_id, b"")
    if info_class == FILE_FS_SECTOR_SIZE_INFORMATION:  # 2.5.7
        return _FS_SECTOR_SIZE.pack(
            bytes_per_sector,
            bytes_per_sector,
            bytes_per_sector,
            bytes_per_sector,
            SSINFO_FLAGS_ALIGNED_DEVICE | SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE,
            0,
            0,
        )
    if info_class in (FILE_FS_LABEL_INFORMATION, FILE_FS_CONTROL_INFORMATION):
        raise NtStatusError(STATUS_NOT_SUPPORTED, f"fs info class {info_class}")
    raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"fs info class {info_class}")


# ---------------------------------------------------------------------------------------------
# QUERY_INFO, SMB2_0_INFO_SECURITY (MS-SMB2 3.3.5.20.3, MS-DTYP 2.4.6)
# ---------------------------------------------------------------------------------------------

SID_EVERYONE = "S-1-1-0"
SID_BUILTIN_ADMINISTRATORS = "S-1-5-32-544"
SID_BUILTIN_USERS = "S-1-5-32-545"

SE_DACL_PRESENT = 0x0004
SE_SELF_RELATIVE = 0x8000
ACCESS_ALLOWED_ACE_TYPE = 0x00
OBJECT_INHERIT_ACE = 0x01
CONTAINER_INHERIT_ACE = 0x02
ACL_REVISION = 2

_SD_HEADER = struct.Struct("<BBHIIII")  # 20 bytes
_ACL_HEADER = struct.Struct("<BBHHH")  # 8 bytes
_ACE_HEADER = struct.Struct("<BBHI")  # type, flags, size, mask = 8 bytes


def encode_sid(sid: str) -> bytes:
    """Binary SID (MS-DTYP 2.4.2.2) from its string form ``S-1-<authority>-<sub>...``."""
    parts = sid.split("-")
    if len(parts) < 3 or parts[0].upper() != "S" or parts[1] != "1" or len(parts) > 18:
        raise ValueError(f"bad SID {sid!r}")
    authority = int(parts[2])
    subs = [int(p) for p in parts[3:]]
    return (
        bytes((1, len(subs)))
        + authority.to_bytes(6, "big")
        + b"".join(s.to_bytes(4, "little") for s in subs)
    )


def encode_security_descriptor(
    st: FileStat,
    additional_information: int,
    *,
    read_only: bool = False,
    owner_sid: str = SID_BUILTIN_ADMINISTRATORS,
    group_sid: str = SID_BUILTIN_USERS,
) -> bytes:
    """A minimal self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6) for QUERY_INFO.

    Only the parts that ``additional_information`` asks for are present (OWNER 1, GROUP 2,
    DACL 4); a SACL request is ignored (no SACL, SE_SACL_PRESENT clear). The DACL has one
    ACCESS_ALLOWED ACE for Everyone: FILE_ALL_ACCESS, or read+execute on a read-only share;
    on directories it is inheritable (OI|CI). The real access decision is the share's and the
    host's; this descriptor only keeps clients such as Explorer and ``smbclient allinfo`` happy.
    """
    owner = encode_sid(owner_sid) if additional_information & OWNER_SECURITY_INFORMATION else b""
    group = encode_sid(group_sid) if additional_information & GROUP_SECURITY_INFORMATION else b""
    dacl = b""
    control = SE_SELF_RELATIVE
    if additional_information & DACL_SECURITY_INFORMATION:
        control |= SE_DACL_PRESENT
        everyone = encode_sid(SID_EVERYONE)
        flags = (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE) if st.is_directory else 0
        mask = FILE_GENERIC_READ_EXECUTE if read_only else FILE_ALL_ACCESS
        ace = _ACE_HEADER.pack(ACCESS_ALLOWED_ACE_TYPE, flags, 8 + len(everyone), mask) + everyone
        dacl = _ACL_HEADER.pack(ACL_REVISION, 0, 8 + len(ace), 1, 0) + ace
    off = _SD_HEADER.size
    off_owner = off if owner else 0
    off += len(owner)
    off_group = off if group else 0
    off += len(group)
    off_dacl = off if dacl else 0
    return _SD_HEADER.pack(1, 0, control, off_owner, off_group, 0, off_dacl) + owner + group + dacl


# ---------------------------------------------------------------------------------------------
# SET_INFO decoders (MS-SMB2 3.3.5.21.1, MS-FSCC 2.4)
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class BasicInfo:
    """FileBasicInformation (2.4.7) as SET_INFO sends it. Times are signed FILETIMEs:
    0 = leave unchanged, -1 = leave unchanged and stop automatic updates, -2 = resume them.
    ``file_attributes`` 0 = leave unchanged."""

    creation_time: int
    last_access_time: int
    last_write_time: int
    change_time: int
    file_attributes: int


@dataclass(slots=True)
class RenameInfo:
    """FileRenameInformation for SMB2 (2.4.42.2) or FileRenameInformationEx. ``file_name`` is
    the target path relative to the share root as the client sent it."""

    replace_if_exists: bool
    root_directory: int
    file_name: str
    flags: int = 0


@dataclass(slots=True)
class DispositionInfo:
    """FileDispositionInformation (2.4.11) / FileDispositionInformationEx (2.4.12)."""

    delete_pending: bool
    flags: int = 0


@dataclass(slots=True)
class PositionInfo:
    """FilePositionInformation (2.4.35)."""

    current_byte_offset: int


@dataclass(slots=True)
class ModeInfo:
    """FileModeInformation (2.4.26)."""

    mode: int


@dataclass(slots=True)
class AllocationInfo:
    """FileAllocationInformation (2.4.4)."""

    allocation_size: int


@dataclass(slots=True)
class EndOfFileInfo:
    """FileEndOfFileInformation (2.4.14)."""

    end_of_file: int


SetInfo = (
    BasicInfo
    | RenameInfo
    | DispositionInfo
    | PositionInfo
    | ModeInfo
    | AllocationInfo
    | EndOfFileInfo
)

_RENAME_HEADER = struct.Struct("<I4xQI")  # Flags/ReplaceIfExists+pad, RootDirectory, NameLength
_MAX_RENAME_NAME_BYTES = 2 * 32767


def _need(buf: bytes | memoryview, n: int) -> None:
    if len(buf) < n:
        raise NtStatusError(STATUS_INFO_LENGTH_MISMATCH, f"need {n} bytes, got {len(buf)}")


def _non_negative_i64(buf: bytes | memoryview, what: str) -> int:
    _need(buf, 8)
    (value,) = _I64.unpack_from(buf, 0)
    if value < 0:
        raise NtStatusError(STATUS_INVALID_PARAMETER, f"negative {what}")
    return value


def decode_rename_info(buf: bytes | memoryview, *, ex: bool = False) -> RenameInfo:
    """FileRenameInformation, SMB2 form (2.4.42.2): ReplaceIfExists (1), Reserved (7),
    RootDirectory (8), FileNameLength (4), FileName. The Ex form (class 65) has a 4-byte Flags
    field in place of ReplaceIfExists; the rest of the layout is the same.
    RootDirectory must be zero (MS-SMB2 3.3.5.21.1)."""
    _need(buf, _RENAME_HEADER.size)
    first, root, name_len = _RENAME_HEADER.unpack_from(buf, 0)
    if ex:
        flags = first
        replace = bool(flags & FILE_RENAME_REPLACE_IF_EXISTS)
    else:
        flags = 0
        replace = bool(first & 0xFF)
    if root != 0:
        raise NtStatusError(STATUS_INVALID_PARAMETER, "RootDirectory must be 0 over SMB2")
    if name_len == 0 or name_len % 2 or name_len > _MAX_RENAME_NAME_BYTES:
        raise NtStatusError(STATUS_INVALID_PARAMETER, f"bad FileNameLength {name_len}")
    end = _RENAME_HEADER.size + name_len
    _need(buf, end)
    try:
        name = bytes(buf[_RENAME_HEADER.size : end]).decode("utf-16-le")
    except UnicodeDecodeError as e:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "file name is not valid UTF-16") from e
    return RenameInfo(replace, root, name, flags)


def decode_set_file_info(info_class: int, buf: bytes | memoryview) -> SetInfo:
    """Decode the input buffer of an SMB2 SET_INFO for SMB2_0_INFO_FILE (MS-SMB2 3.3.5.21.1).

    Short buffers fail with STATUS_INFO_LENGTH_MISMATCH, out-of-range values with
    STATUS_INVALID_PARAMETER, classes not settable here with STATUS_INVALID_INFO_CLASS.
    """
    if info_class == FILE_BASIC_INFORMATION:
        # The trailing Reserved field is unused; accept clients that omit it (36 bytes).
        _need(buf, 36)
        ctime, atime, mtime, chtime = struct.unpack_from("<qqqq", buf, 0)
        (attrs,) = _U32.unpack_from(buf, 32)
        for t in (ctime, atime, mtime, chtime):
            if t < -2:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "bad FILETIME in basic info")
        return BasicInfo(ctime, atime, mtime, chtime, attrs)
    if info_class == FILE_RENAME_INFORMATION:
        return decode_rename_info(buf)
    if info_class == FILE_RENAME_INFORMATION_EX:
        return decode_rename_info(buf, ex=True)
    if info_class == FILE_DISPOSITION_INFORMATION:
        _need(buf, 1)
        return DispositionInfo(bool(buf[0]))
    if info_class == FILE_DISPOSITION_INFORMATION_EX:
        _need(buf, 4)
        (flags,) = _U32.unpack_from(buf, 0)
        return DispositionInfo(bool(flags & FILE_DISPOSITION_DELETE), flags)
    if info_class == FILE_POSITION_INFORMATION:
        return PositionInfo(_non_negative_i64(buf, "position"))
    if info_class == FILE_MODE_INFORMATION:
        _need(buf, 4)
        (mode,) = _U32.unpack_from(buf, 0)
        if mode & ~_VALID_MODE_BITS:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"bad mode 0x{mode:x}")
        if (mode & FILE_SYNCHRONOUS_IO_ALERT) and (mode & FILE_SYNCHRONOUS_IO_NONALERT):
            raise NtStatusError(STATUS_INVALID_PARAMETER, "both synchronous modes")
        return ModeInfo(mode)
    if info_class == FILE_ALLOCATION_INFORMATION:
        return AllocationInfo(_non_negative_i64(buf, "allocation size"))
    if info_class == FILE_END_OF_FILE_INFORMATION:
        return EndOfFileInfo(_non_negative_i64(buf, "end of file"))
    raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"set file info class {info_class}")


# ---------------------------------------------------------------------------------------------
# QUERY_DIRECTORY entries (MS-SMB2 3.3.5.18, MS-FSCC 2.4)
# ---------------------------------------------------------------------------------------------

# Common prefix: NextEntryOffset, FileIndex, 4 times, EndOfFile, AllocationSize, FileAttributes,
# FileNameLength = 64 bytes (2.4.10 FileDirectoryInformation).
_DIR_COMMON = struct.Struct("<IIqqqqqqII")
_NAMES_HDR = struct.Struct("<III")  # 2.4.28

# Fixed header size (offset of FileName) per class.
DIRECTORY_ENTRY_HEADER_SIZE: dict[int, int] = {
    FILE_DIRECTORY_INFORMATION: 64,  # 2.4.10
    FILE_FULL_DIRECTORY_INFORMATION: 68,  # 2.4.14: + EaSize
    FILE_BOTH_DIRECTORY_INFORMATION: 94,  # 2.4.8: + EaSize, ShortNameLength, Reserved, ShortName
    FILE_NAMES_INFORMATION: 12,  # 2.4.28
    FILE_ID_BOTH_DIRECTORY_INFORMATION: 104,  # 2.4.17: Both + Reserved2, FileId
    FILE_ID_FULL_DIRECTORY_INFORMATION: 80,  # 2.4.18: Full + Reserved, FileId
    FILE_ID_EXTD_DIRECTORY_INFORMATION: 88,  # 2.4.19: + EaSize, ReparsePointTag, FileId(16)
}
QUERY_DIRECTORY_CLASSES = frozenset(DIRECTORY_ENTRY_HEADER_SIZE)


def _align8(n: int) -> int:
    return (n + 7) & ~7


def encode_directory_entries(
    info_class: int, entries: list[FileStat], max_len: int
) -> tuple[bytes, int]:
    """Encode as many of ``entries`` as fit in ``max_len`` bytes (MS-SMB2 3.3.5.18).

    Entries start on 8-byte boundaries and are chained by NextEntryOffset; the last one has
    NextEntryOffset 0 and is not padded. FileIndex, EaSize, reparse tag are 0; ShortName is
    the entry's ``short_name`` (empty when it has none). Returns ``(buffer, count)``; ``count == 0`` with entries left means the first entry
    did not fit and the caller answers with :func:`directory_no_fit_status`.
    Unknown class -> ``NtStatusError(STATUS_INVALID_INFO_CLASS)``.
    """
    header = DIRECTORY_ENTRY_HEADER_SIZE.get(info_class)
    if header is None:
        raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"directory info class {info_class}")
    if max_len <= 0 or not entries:
        return b"", 0
    names = []
    total = 0
    prev_end = 0
    for st in entries:
        name = _utf16(st.name)
        start = _align8(prev_end) if names else 0
        end = start + header + len(name)
        if end > max_len:
            break
        names.append((start, name))
        prev_end = end
        total = end
    out = bytearray(total)
    count = len(names)
    for i in range(count):
        start, name = names[i]
        st = entries[i]
        next_off = (names[i + 1][0] - start) if i + 1 < count else 0
        if info_class == FILE_NAMES_INFORMATION:
            _NAMES_HDR.pack_into(out, start, next_off, 0, len(name))
        else:
            _DIR_COMMON.pack_into(
                out,
                start,
                next_off,
                0,
                st.creation_time,
                st.last_access_time,
                st.last_write_time,
                st.change_time,
                st.end_of_file,
                st.allocation_size,
                st.file_attributes,
                len(name),
            )
            # EaSize (68..), ShortName*, Reserved* are zero already in the fresh bytearray.
            fid = st.file_id & 0xFFFFFFFFFFFFFFFF
            if st.short_name and info_class in (
                FILE_BOTH_DIRECTORY_INFORMATION,
                FILE_ID_BOTH_DIRECTORY_INFORMATION,
            ):
                # 2.4.8: ShortNameLength (1 byte) at 68, ShortName (24 bytes) at 70
                short = _utf16(st.short_name)[:24]
                out[start + 68] = len(short)
                out[start + 70 : start + 70 + len(short)] = short
            if info_class == FILE_ID_BOTH_DIRECTORY_INFORMATION:
                _U64.pack_into(out, start + 96, fid)
            elif info_class == FILE_ID_FULL_DIRECTORY_INFORMATION:
                _U64.pack_into(out, start + 72, fid)
            elif info_class == FILE_ID_EXTD_DIRECTORY_INFORMATION:
                _U64.pack_into(out, start + 72, fid)  # low half of the 128-bit FileId
        out[start + header : start + header + len(name)] = name
    return bytes(out), count


def directory_no_fit_status(info_class: int, max_len: int) -> int:
    """Status when not even the first entry fits the client's OutputBufferLength.

    Following MS-FSA 2.1.5.6.3: a buffer smaller than the fixed part of one entry fails with
    STATUS_INFO_LENGTH_MISMATCH; a buffer that holds the fixed part but not the whole first
    name fails with STATUS_BUFFER_OVERFLOW (we send no partial entry).
    """
    header = DIRECTORY_ENTRY_HEADER_SIZE.get(info_class)
    if header is None:
        return STATUS_INVALID_INFO_CLASS
    return STATUS_INFO_LENGTH_MISMATCH if max_len < header else STATUS_BUFFER_OVERFLOW
