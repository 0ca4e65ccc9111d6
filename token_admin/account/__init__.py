"""Self-service pages for the signed-in user (``token_admin.account.urls``)."""
