"""The event catalogue: one row per event lanman writes (id, name, level, channel, template).

Where Windows has a matching event the id and channel are Windows' own so that people who know
the Windows logs recognise them:

* 551 ``Microsoft-Windows-SMBServer/Security`` "SMB Session Authentication Failure" (from
  memory of the Windows channel; not yet checked against a cited source).
* 3021 and 3023 ``Microsoft-Windows-SMBServer/Audit`` (Windows 11 24H2 / KB5066913 audit events
  "client does not support signing" and "insecure guest logon"; docs/SOURCES.md signing §4-5).

No Windows event id for a client refused for not encrypting could be confirmed from a cited
source, so UNENCRYPTED_ACCESS_REJECTED (9006) and ENCRYPTED_MESSAGE_REJECTED (9007) are lanman's,
as is ANONYMOUS_ACCESS_DENIED (9008): Windows answers a null session's refused pipe open or tree
connect (RestrictNullSessAccess) with STATUS_ACCESS_DENIED and logs nothing.

Windows logs nothing for a request whose signature fails or that arrives unsigned on a
signing-required session (it just answers STATUS_ACCESS_DENIED), and nothing server-side for
a refused guest logon, so those — and our operational events — use lanman's own ids in the
9000 range, on channel ``lanman/Security`` or ``lanman/Operational``.

Administrative changes (issue 15 item 8) name who made them (``actor``: the local user
running the command, the sudo caller when run through sudo), what changed and old -> new:

* Account changes use Windows' own Security-log ids, whose meaning matches: 4722 "A user
  account was enabled", 4725 "A user account was disabled", 4740 "A user account was locked
  out" (Windows logs it for the bad-password threshold; lanman also for ``user set --locked``,
  naming the caller), 4767 "A user account was unlocked", 4738 "A user account was changed".
* Registry policy values (policy set, profile use, registry import, smb server-/client-config
  set) are lanman's 9150-9153: Windows' 4739 "Domain Policy was changed" is about the domain
  object's password, lockout and Kerberos policy, not a machine's Security Options or
  LanmanServer/LanmanWorkstation parameters, and Windows logs nothing of its own when those
  registry values change (only 4657 under an auditing SACL). 9151 is the warning written when
  SMB signing is turned off (NTLM relay). Domain provisioning is 9154.

Templates are ``str.format`` strings; missing fields render as ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Levels as the Windows Event Viewer names them.
CRITICAL = "Critical"
ERROR = "Error"
WARNING = "Warning"
INFORMATION = "Information"
LEVELS = (CRITICAL, ERROR, WARNING, INFORMATION, "Verbose")


@dataclass(frozen=True, slots=True)
class EventDef:
    id: int
    name: str
    level: str
    channel: str
    template: str
    windows: bool  # True when id/channel are Windows' own


_SEC = "Microsoft-Windows-SMBServer/Security"
_AUDIT = "Microsoft-Windows-SMBServer/Audit"
_LSEC = "lanman/Security"
_LOPS = "lanman/Operational"
_AUTHN = "Microsoft-Windows-Authentication/"
_AP_FAIL = _AUTHN + "AuthenticationPolicyFailures-DomainController"
_PU_FAIL = _AUTHN + "ProtectedUserFailures-DomainController"
_PU_OK = _AUTHN + "ProtectedUserSuccesses-DomainController"

_ROWS: tuple[EventDef, ...] = (
    # --- security ---------------------------------------------------------------------------
    EventDef(
        551,
        "LOGON_FAILURE",
        ERROR,
        _SEC,
        "SMB session authentication failure. Client: {client}; user: {domain}\\{user}; "
        "status: {status}; reason: {reason}",
        True,
    ),
    EventDef(
        3021,
        "CLIENT_DOES_NOT_SUPPORT_SIGNING",
        WARNING,
        _AUDIT,
        "The client does not support SMB signing. Client: {client}; user: {user}; "
        "dialect: {dialect}",
        True,
    ),
    EventDef(
        3023,
        "INSECURE_GUEST_LOGON",
        WARNING,
        _AUDIT,
        "A client logged on as guest (unsigned session). Client: {client}; "
        "requested user: {user}; share: {share}",
        True,
    ),
    EventDef(
        9001,
        "SMB_SIGNATURE_VERIFY_FAILED",
        ERROR,
        _LSEC,
        "The signature of an SMB request did not verify; the request was refused with "
        "STATUS_ACCESS_DENIED and not executed. Client: {client}; user: {user}; "
        "session: {session_id}; command: {command}; message id: {message_id}; "
        "algorithm: {algorithm}",
        False,
    ),
    EventDef(
        9002,
        "SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION",
        ERROR,
        _LSEC,
        "An unsigned SMB request arrived on a session that requires signing; the request "
        "was refused with STATUS_ACCESS_DENIED and not executed. Client: {client}; "
        "user: {user}; session: {session_id}; command: {command}; "
        "message id: {message_id}",
        False,
    ),
    EventDef(
        9003,
        "GUEST_LOGON_REFUSED",
        WARNING,
        _LSEC,
        "A guest logon was refused because guest mapping is off or no share allows guests. "
        "Client: {client}; requested user: {user}; reason: {reason}",
        False,
    ),
    EventDef(
        9004,
        "UNSIGNED_TREE_CONNECT_DISCONNECTED",
        ERROR,
        _LSEC,
        "An unsigned TREE_CONNECT from an authenticated user at dialect 3.1.1; the "
        "connection was closed (MS-SMB2 3.3.5.7). Client: {client}; user: {user}",
        False,
    ),
    EventDef(
        9005,
        "MALFORMED_REQUEST",
        WARNING,
        _LSEC,
        "A malformed SMB message closed its connection. Client: {client}; reason: {reason}",
        False,
    ),
    EventDef(
        9006,
        "UNENCRYPTED_ACCESS_REJECTED",
        ERROR,
        _LSEC,
        "Unencrypted access to a session or share that requires encryption was refused with "
        "STATUS_ACCESS_DENIED (RejectUnencryptedAccess; MS-SMB2 3.3.5.2.9, 3.3.5.7). "
        "Client: {client}; user: {user}; share: {share}; reason: {reason}",
        False,
    ),
    EventDef(
        9007,
        "ENCRYPTED_MESSAGE_REJECTED",
        ERROR,
        _LSEC,
        "An encrypted SMB message failed to decrypt (bad tag, unknown session or bad "
        "length); the connection was closed (MS-SMB2 3.3.5.2.1.1). Client: {client}; "
        "session: {session_id}; reason: {reason}",
        False,
    ),
    EventDef(
        9008,
        "SHARE_ACCESS_DENIED",
        WARNING,
        _LSEC,
        "A tree connect was refused with STATUS_ACCESS_DENIED: the share's permissions grant "
        "the user no access (Get-SmbShareAccess). Client: {client}; user: {user}; "
        "share: {share}",
        False,
    ),
    EventDef(
        9009,
        "SESSION_CLOSED_BY_ADMIN",
        WARNING,
        _LOPS,
        "An administrator closed SMB session {session_id} (Close-SmbSession). Client: "
        "{client}; user: {user}; open files closed: {files}",
        False,
    ),
    EventDef(
        9010,
        "FILE_CLOSED_BY_ADMIN",
        WARNING,
        _LOPS,
        "An administrator closed open file {file_id} (Close-SmbOpenFile). Client: {client}; "
        "user: {user}; share: {share}; path: {path}",
        False,
    ),
    EventDef(
        9011,
        "ANONYMOUS_ACCESS_DENIED",
        WARNING,
        _LSEC,
        "An anonymous (null) session was refused access to {kind} {target} with "
        "STATUS_ACCESS_DENIED. Client: {client}; reason: {reason}",
        False,
    ),
    EventDef(
        9012,
        "SHARE_PATH_UNAVAILABLE",
        ERROR,
        _LOPS,
        "Share {share} cannot be served: its directory {path} is unavailable ({reason}); the "
        "tree connect was refused with STATUS_BAD_NETWORK_NAME. Client: {client}; user: {user}",
        False,
    ),
    # --- SMB client (the Workstation service; docs/SOURCES.md signing §4.3, §5) ------------
    EventDef(
        31017,
        "CLIENT_REJECTED_INSECURE_GUEST_LOGON",
        ERROR,
        "Microsoft-Windows-SMBClient/Security",
        "Rejected an insecure guest logon. Server: {server}; session kind: {kind}; "
        "requested user: {user}; dialect: {dialect}; reason: {reason}",
        True,
    ),
    EventDef(
        31022,
        "CLIENT_ALLOWED_INSECURE_GUEST_LOGON",
        WARNING,
        "Microsoft-Windows-SMBClient/Security",
        "Allowed an insecure guest logon (the session is not signed). Server: {server}; "
        "session kind: {kind}; requested user: {user}; dialect: {dialect}",
        True,
    ),
    EventDef(
        31998,
        "CLIENT_SERVER_DOES_NOT_SUPPORT_SIGNING",
        ERROR,
        "Microsoft-Windows-SMBClient/Audit",
        "The server does not support signing; this client requires it. Server: {server}; "
        "user: {user}; dialect: {dialect}; command: {command}",
        True,
    ),
    EventDef(
        31999,
        "CLIENT_SERVER_DOES_NOT_SUPPORT_ENCRYPTION",
        ERROR,
        "Microsoft-Windows-SMBClient/Audit",
        "The server does not support encryption; this client requires it. Server: {server}; "
        "dialect: {dialect}",
        True,
    ),
    EventDef(
        9201,
        "CLIENT_RESPONSE_SIGNATURE_INVALID",
        ERROR,
        _LSEC,
        "The signature of an SMB response did not verify; the response was discarded and the "
        "request failed with STATUS_INVALID_SIGNATURE. Server: {server}; session: "
        "{session_id}; command: {command}; message id: {message_id}; algorithm: {algorithm}",
        False,
    ),
    # --- msg / MS-TSTS (docs/SOURCES.md msg §7: log sender, source, target, outcome) -----
    EventDef(
        9300,
        "MSG_DELIVERED",
        INFORMATION,
        _LOPS,
        "A message from {sender} ({client}) was delivered to session {session_id} "
        "({session}, user {user}); {length} characters; response: {response}",
        False,
    ),
    EventDef(
        9301,
        "MSG_DELIVERY_FAILED",
        WARNING,
        _LOPS,
        "A message from {sender} ({client}) was not delivered to session {session_id} "
        "({session}, user {user}): error {error}, {reason}",
        False,
    ),
    EventDef(
        9302,
        "MSG_REMOTE_RPC_REFUSED",
        WARNING,
        _LSEC,
        "A remote open of the WinStation pipe {pipe} was refused. Client: {client}; "
        "user: {user}; reason: {reason}",
        False,
    ),
    EventDef(
        9303,
        "RPC_AUTH_FAILED",
        ERROR,
        _LSEC,
        "A DCE/RPC authentication on pipe {pipe} failed. Client: {client}; user: {user}; "
        "reason: {reason}",
        False,
    ),
    # --- operational ------------------------------------------------------------------------
    EventDef(
        9100,
        "SERVICE_STARTED",
        INFORMATION,
        _LOPS,
        "The {service} service started on {listen}:{port}. Signing required: "
        "{require_security_signature}",
        False,
    ),
    EventDef(9101, "SERVICE_STOPPED", INFORMATION, _LOPS, "The {service} service stopped.", False),
    EventDef(
        9110,
        "SHARE_ADDED",
        INFORMATION,
        _LOPS,
        "Share {share} added for {path} (read-only: {read_only}, guest ok: {guest_ok}).",
        False,
    ),
    EventDef(9111, "SHARE_REMOVED", INFORMATION, _LOPS, "Share {share} removed.", False),
    EventDef(9112, "SHARE_CHANGED", INFORMATION, _LOPS, "Share {share} changed: {changes}.", False),
    EventDef(
        9120, "USER_ADDED", INFORMATION, _LOPS, "User {user} added (RID {rid}) by {actor}.", False
    ),
    EventDef(9121, "USER_REMOVED", INFORMATION, _LOPS, "User {user} removed by {actor}.", False),
    EventDef(
        9122,
        "USER_PASSWORD_CHANGED",
        INFORMATION,
        _LOPS,
        "The password of user {user} was changed by {actor}.",
        False,
    ),
    EventDef(
        9130,
        "SERVER_CONFIG_CHANGED",
        INFORMATION,
        _LOPS,
        "Server configuration changed by {actor}: {changes}",
        False,
    ),
    # --- administrative audit trail (who, what, old -> new) -------------------------------
    EventDef(
        9150,
        "POLICY_VALUE_CHANGED",
        INFORMATION,
        _LSEC,
        "Policy value {setting} ({path}) changed by {actor} with `{command}`: {old} -> {new} "
        "(origin {old_origin} -> {new_origin}; local layer {old_local} -> {new_local}; "
        "Group Policy layer {old_group} -> {new_group})",
        False,
    ),
    EventDef(
        9151,
        "SIGNING_TURNED_OFF",
        WARNING,
        _LSEC,
        "SMB signing was turned off by {actor} with `{command}`: {setting} {old} -> {new} "
        "({role}). Unsigned SMB sessions can be tampered with and their NTLM authentication "
        "relayed (NTLM relay attacks); Windows 11 24H2 requires signing by default.",
        False,
    ),
    EventDef(
        9152,
        "POLICY_PROFILE_CHANGED",
        INFORMATION,
        _LSEC,
        "The policy profile was changed by {actor}: {old} -> {new}",
        False,
    ),
    EventDef(
        9153,
        "REGISTRY_IMPORTED",
        INFORMATION,
        _LSEC,
        "Registry file {file} was imported into the {scope} layer by {actor}; {changed} "
        "effective setting(s) changed",
        False,
    ),
    EventDef(
        9154,
        "DOMAIN_PROVISIONED",
        INFORMATION,
        _LSEC,
        "Domain {domain} ({realm}) was provisioned by {actor}: domain SID {domain_sid}; "
        "domain controller account {dc_account}",
        False,
    ),
    EventDef(
        4722,
        "USER_ENABLED",
        INFORMATION,
        "Security",
        "A user account was enabled. Target Account: {user}; Subject: {actor}",
        True,
    ),
    EventDef(
        4725,
        "USER_DISABLED",
        INFORMATION,
        "Security",
        "A user account was disabled. Target Account: {user}; Subject: {actor}",
        True,
    ),
    EventDef(
        4738,
        "USER_CHANGED",
        INFORMATION,
        "Security",
        "A user account was changed. Target Account: {user}; Subject: {actor}; "
        "Changed Attributes: {changes}",
        True,
    ),
    EventDef(
        4740,
        "USER_LOCKED_OUT",
        INFORMATION,
        "Security",
        "A user account was locked out. Target Account: {user}; Caller: {actor}; "
        "Caller Computer Name: {client}; Reason: {reason}",
        True,
    ),
    EventDef(
        4767,
        "USER_UNLOCKED",
        INFORMATION,
        "Security",
        "A user account was unlocked. Target Account: {user}; Subject: {actor}",
        True,
    ),
    EventDef(
        9140,
        "STORAGE_ERROR",
        ERROR,
        _LOPS,
        "Storage error on share {share}: {command} failed with {status} ({detail}); client "
        "{client}. Only that request failed; the connection and its open files stay usable.",
        False,
    ),
    # --- authentication policies and Protected Users (Microsoft-Windows-Authentication
    # channels; Microsoft's "Authentication policies and authentication policy silos" and
    # "Protected Users security group" pages list these ids; the Security-log twins 4820-4824
    # carry the same insertion strings). 1xx = enforced denial, 3xx = audit-mode "would deny".
    EventDef(
        100,
        "PROTECTED_USER_NTLM_FAILURE",
        ERROR,
        _PU_FAIL,
        "NTLM sign-in failure for a member of Protected Users. Account Name: {account}; "
        "Device Name: {device}; Error Code: {status}",
        True,
    ),
    EventDef(
        101,
        "AUTHN_POLICY_NTLM_FAILURE",
        ERROR,
        _AP_FAIL,
        "NTLM authentication failed because access control restrictions are required. "
        "Account Name: {account}; Device Name: {device}; Error Code: {status}; "
        "Silo Name: {silo}; Policy Name: {policy}",
        True,
    ),
    EventDef(
        104,
        "PROTECTED_USER_ETYPE_FAILURE",
        ERROR,
        _PU_FAIL,
        "Kerberos pre-authentication with DES or RC4 failed for a member of Protected Users. "
        "Account Name: {account}; Security ID: {sid}; Service Name: {service}; Failure Code: "
        "{code}; Pre-Auth Type: {preauth}; Client Address: {client}",
        True,
    ),
    EventDef(
        105,
        "AUTHN_POLICY_TGT_DENIED",
        ERROR,
        _AP_FAIL,
        "A Kerberos Ticket-granting-ticket (TGT) was denied because the device does not meet "
        "the access control restrictions. Account Name: {account}; Device Name: {device}; "
        "Silo Name: {silo}; Policy Name: {policy}; TGT Lifetime: {tgt_lifetime}; Reason: "
        "{reason}; Client Address: {client}",
        True,
    ),
    EventDef(
        106,
        "AUTHN_POLICY_SERVICE_TICKET_DENIED",
        ERROR,
        _AP_FAIL,
        "A Kerberos service ticket was denied because the user, device, or both does not meet "
        "the access control restrictions. Account Name: {account}; Device Name: {device}; "
        "Service Name: {service}; Silo Name: {silo}; Policy Name: {policy}; Reason: {reason}; "
        "Client Address: {client}",
        True,
    ),
    EventDef(
        303,
        "PROTECTED_USER_TGT_ISSUED",
        INFORMATION,
        _PU_OK,
        "A Kerberos ticket-granting-ticket (TGT) was issued for a member of the Protected "
        "User group. Account Name: {account}; Supplied Realm: {realm}; TGT Lifetime: "
        "{tgt_lifetime}; Client Address: {client}",
        True,
    ),
    EventDef(
        305,
        "AUTHN_POLICY_TGT_AUDIT",
        WARNING,
        _AP_FAIL,
        "A Kerberos Ticket-granting-ticket (TGT) would have been denied (audit mode) because "
        "the device does not meet the access control restrictions. Account Name: {account}; "
        "Device Name: {device}; Silo Name: {silo}; Policy Name: {policy}; TGT Lifetime: "
        "{tgt_lifetime}; Reason: {reason}; Client Address: {client}",
        True,
    ),
    EventDef(
        306,
        "AUTHN_POLICY_SERVICE_TICKET_AUDIT",
        WARNING,
        _AP_FAIL,
        "A Kerberos service ticket would have been denied (audit mode) because the user, "
        "device, or both does not meet the access control restrictions. Account Name: "
        "{account}; Device Name: {device}; Service Name: {service}; Silo Name: {silo}; "
        "Policy Name: {policy}; Reason: {reason}; Client Address: {client}",
        True,
    ),
    EventDef(
        4820,
        "SECURITY_TGT_DENIED_BY_POLICY",
        ERROR,
        "Security",
        "A Kerberos Ticket-granting-ticket (TGT) was denied because the device does not meet "
        "the access control restrictions. Account Name: {account}; Supplied Realm: {realm}; "
        "Device Name: {device}; Service Name: {service}; Result Code: {code}; Client Address: "
        "{client}; Silo Name: {silo}; Policy Name: {policy}; TGT Lifetime: {tgt_lifetime}",
        True,
    ),
    EventDef(
        4821,
        "SECURITY_SERVICE_TICKET_DENIED_BY_POLICY",
        ERROR,
        "Security",
        "A Kerberos service ticket was denied because the user, device, or both does not meet "
        "the access control restrictions. Account Name: {account}; Account Domain: {realm}; "
        "Device Name: {device}; Service Name: {service}; Client Address: {client}; Failure "
        "Code: {code}; Silo Name: {silo}; Policy Name: {policy}",
        True,
    ),
    EventDef(
        4822,
        "SECURITY_NTLM_PROTECTED_USER",
        ERROR,
        "Security",
        "NTLM authentication failed because the account was a member of the Protected User "
        "group. Account Name: {account}; Device Name: {device}; Error Code: {status}",
        True,
    ),
    EventDef(
        4823,
        "SECURITY_NTLM_POLICY_REQUIRED",
        ERROR,
        "Security",
        "NTLM authentication failed because access control restrictions are required. "
        "Account Name: {account}; Device Name: {device}; Error Code: {status}; Silo Name: "
        "{silo}; Policy Name: {policy}",
        True,
    ),
    EventDef(
        4824,
        "SECURITY_PROTECTED_USER_ETYPE",
        ERROR,
        "Security",
        "Kerberos preauthentication by using DES or RC4 failed because the account was a "
        "member of the Protected User group. Account Name: {account}; Security ID: {sid}; "
        "Service Name: {service}; Failure Code: {code}; Pre-Authentication Type: {preauth}; "
        "Client Address: {client}",
        True,
    ),
    # Windows writes 1102 (Microsoft-Windows-Eventlog, "The audit log was cleared") as the
    # first record of a cleared Security log; lanman does the same.
    EventDef(
        1102,
        "LOG_CLEARED",
        INFORMATION,
        "Security",
        "The event log was cleared by {user} ({removed} events removed{backup}).",
        True,
    ),
)

CATALOGUE: dict[str, EventDef] = {e.name: e for e in _ROWS}
BY_ID: dict[int, EventDef] = {e.id: e for e in _ROWS}
assert len(CATALOGUE) == len(BY_ID) == len(_ROWS), "duplicate event name or id"


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def render(name_or_id: str | int, **data: object) -> str:
    """Fill the event's template; never raises for missing fields."""
    ev = CATALOGUE[name_or_id] if isinstance(name_or_id, str) else BY_ID[name_or_id]
    try:
        return ev.template.format_map(_Missing(data))
    except (ValueError, IndexError, AttributeError, KeyError):
        return ev.template
