"""The OAuth 2 scopes of the staff and "me" APIs. Imports nothing, so a project's settings
module can add them to ``OAUTH2_PROVIDER["SCOPES"]``."""

READ_SCOPE = "token_admin:read"
REVOKE_SCOPE = "token_admin:revoke"
ME_SCOPE = "token_admin:me"
SCOPES = {
    READ_SCOPE: "Staff: read apps, sessions, devices, tokens and revocation events",
    REVOKE_SCOPE: "Staff: revoke sessions, apps and users' tokens",
    ME_SCOPE: "See and revoke your own sessions, apps and devices",
}
