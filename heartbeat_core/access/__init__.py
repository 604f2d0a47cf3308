"""Who may read and write: the admin token, viewer tokens and display keys (issue 15).

`keys` creates, lists and revokes stored credentials (hashed); `principal` says who a presented secret is,
from a short-lived cache so a revocation takes effect everywhere within seconds.
"""

from heartbeat_core.access.keys import (
    Credential,
    CredentialError,
    CredentialKind,
    cookie_value,
    create_credential,
    hash_secret,
    list_credentials,
    revoke_credential,
)
from heartbeat_core.access.principal import Principal, PrincipalBook, Role, record_write

__all__ = [
    "Credential",
    "CredentialError",
    "CredentialKind",
    "Principal",
    "PrincipalBook",
    "Role",
    "cookie_value",
    "create_credential",
    "hash_secret",
    "list_credentials",
    "record_write",
    "revoke_credential",
]
