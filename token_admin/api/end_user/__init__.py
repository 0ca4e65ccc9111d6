"""End-user token API in the Onegini style: API clients list and revoke a user's sessions.

The contract is section 3 of the API spec: HTTP Basic with an API client's
``client_id:client_secret``, ``GET users/{userId}/tokens`` and
``DELETE users/{userId}/tokens/{tokenId}``.
"""
