"""The events package's settings (``EVENTS_*``): declared with the others in ``token_admin.conf``."""

from token_admin.conf import EventSettings, events_conf

__all__ = ["EventSettings", "events_conf"]
