"""A host project's own app for the host test configuration (``tests.settings_host``): a custom
user model as real products have it (UUID primary key, e-mail login, no ``get_full_name``) and
DOT's six swappable models swapped, each with one field of its own."""
