"""Deliveries stored the receiver's answer in ``last_error`` (an internal service's 500 body,
shown to view-only staff): rewrite what is there to the fixed reasons deliveries now keep.
"""

from django.db import migrations

# The exception names the requests-based sender wrote before ": ", and their reasons now.
REASONS = {
    "ConnectTimeout": "timed out",
    "ReadTimeout": "timed out",
    "Timeout": "timed out",
    "SSLError": "TLS error",
    "ProxyError": "connection failed",
    "ConnectionError": "connection failed",
    "InvalidURL": "bad URL",
    "InvalidSchema": "bad URL",
    "MissingSchema": "bad URL",
    "TooManyRedirects": "redirect refused",
}
FIXED = (
    "refused address",
    "name not resolved",
    "connection failed",
    "timed out",
    "TLS error",
    "bad response",
    "redirect refused",
    "bad URL",
    "deadline passed",
)


def fixed_reasons(apps, schema_editor):
    Delivery = apps.get_model("token_admin", "Delivery")
    rows = Delivery.objects.exclude(last_error="").exclude(last_error__in=FIXED)
    rows.filter(last_error="Deadline passed.").update(last_error="deadline passed")
    answered = rows.filter(last_error__startswith="DeliveryError: HTTP ", last_status_code__isnull=False)
    for code in set(answered.values_list("last_status_code", flat=True)):
        answered.filter(last_status_code=code).update(last_error=f"HTTP {code}")
    for name, reason in REASONS.items():
        rows.filter(last_error__startswith=f"{name}: ").update(last_error=reason)
    # Anything else the old sender wrote (a status without a code, a decoding error): not kept.
    rows.exclude(last_error__regex=r"^HTTP [0-9]{3}$").update(last_error="bad response")


class Migration(migrations.Migration):
    dependencies = [("token_admin", "0013_credentials_change")]

    operations = [migrations.RunPython(fixed_reasons, migrations.RunPython.noop, elidable=True)]
