"""Authentication policies and silos as a Windows Server 2012 R2+ DC applies them.

Pure decisions (no IO): :mod:`resolve` finds the policy that governs an account (MS-KILE
3.3.5.4/3.3.5.5 as Windows behaves), :mod:`tokens` builds the security tokens the conditions
are checked against, :mod:`decide` runs the checks and says what to answer and what to log.
The KDC (``lanman.kerberos.kdc.authn``) calls them; :mod:`ntlm` holds what an NTLM logon
answers (used by ``lanman.smb.server.ntlm_logon``).
"""
