"""Print the README's settings reference table from the declarations in ``token_admin.conf``,
or, with ``--write``, put it into README.md in place of the one there.

    python scripts/settings_table.py --write

``tests/test_settings_checks.py`` fails while the README's table differs from this output.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = "| setting | type | default | what it does |"


def replace_table(readme: str, table: str) -> str:
    """``readme`` with the table that starts at ``HEADER`` (up to the next blank line) replaced."""
    start = readme.index(HEADER + "\n")
    end = readme.index("\n\n", start) + 1
    return readme[:start] + table + readme[end:]


def main() -> None:
    import django
    from django.conf import settings

    settings.configure()  # the declarations need no project settings
    django.setup()
    from token_admin.conf import settings_table

    table = settings_table()
    if sys.argv[1:] == ["--write"]:
        readme = ROOT / "README.md"
        readme.write_text(replace_table(readme.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        sys.stdout.write(table)


if __name__ == "__main__":
    main()
