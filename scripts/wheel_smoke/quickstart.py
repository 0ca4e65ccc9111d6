"""Apply the README's "Quick start in your project" to a new ``django-admin startproject``.

Usage: ``python quickstart.py README.md PROJECT_PACKAGE_DIR``, or
``python quickstart.py --pip-args README.md WHEEL``: the arguments of the section's
``pip install`` line, one a line, with the wheel in place of ``django-token-admin``.

Each ```python block of that section names its file on its first line (``# settings.py`` or
``# urls.py``); a block without one fails the run, so the README cannot grow a step this
script silently skips. In a block, a list assigned to ``INSTALLED_APPS``, ``MIDDLEWARE`` or
``urlpatterns`` adds its entries to the project's list (an entry the project has already, such
as startproject's admin URL, is not added twice); every other statement is appended as written.
Prints what it did, so that the smoke test's log shows the exact settings it ran with.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
from pathlib import Path

SECTION = "## Quick start in your project"
MERGED_LISTS = {"INSTALLED_APPS", "MIDDLEWARE", "urlpatterns"}


def quick_start(readme: str) -> str:
    """The section's text; the smoke test fails plainly if the README renamed it."""
    start = readme.find(SECTION)
    if start == -1:
        raise SystemExit(f"the README has no {SECTION!r} section (the wheel smoke test applies it)")
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start : end if end != -1 else len(readme)]


def quick_start_blocks(readme: str) -> list[tuple[str, str]]:
    section = quick_start(readme)
    blocks = []
    for code in re.findall(r"^```python\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE):
        first = code.splitlines()[0].strip()
        match = re.fullmatch(r"#\s*(settings\.py|urls\.py)", first)
        if not match:
            raise SystemExit(f"quick start block names no file (# settings.py or # urls.py): {first!r}")
        blocks.append((match.group(1), code))
    if not blocks:
        raise SystemExit("no ```python block in the README's quick start")
    return blocks


def pip_args(readme: str, wheel: str) -> list[str]:
    """The quick start's ``pip install`` words, the wheel standing in for the package."""
    section = quick_start(readme)
    lines = re.findall(r"^pip install (.*)$", section, flags=re.MULTILINE)
    if len(lines) != 1:
        raise SystemExit(f"the quick start has {len(lines)} `pip install` lines, not one")
    words = shlex.split(lines[0], comments=True)
    package = [w for w in words if re.fullmatch(r"django-token-admin(\[[a-z,]+\])?", w)]
    if len(package) != 1:
        raise SystemExit(f"the quick start's pip install names no django-token-admin: {lines[0]!r}")
    return [wheel + package[0][len("django-token-admin") :] if w == package[0] else w for w in words]


def apply(code: str, existing: str) -> str:
    """What to append to a file whose text is ``existing`` for one block's ``code``."""
    present = {
        node.targets[0].id: {ast.dump(element) for element in node.value.elts}
        for node in ast.parse(existing).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.List)
    }
    out = []
    for node in ast.parse(code).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in MERGED_LISTS
            and isinstance(node.value, ast.List)
        ):
            name = node.targets[0].id
            if name not in present:
                raise SystemExit(f"the project has no {name} list to add to")
            new = [
                ast.get_source_segment(code, element)
                for element in node.value.elts
                if ast.dump(element) not in present[name]
            ]
            if new:
                out.append(f"{name} += [\n" + "".join(f"    {entry},\n" for entry in new) + "]")
        else:
            out.append(ast.get_source_segment(code, node))
    return "\n".join(out)


def main(readme_path: str, package_dir: str) -> None:
    package = Path(package_dir)
    for filename, code in quick_start_blocks(Path(readme_path).read_text()):
        target = package / filename
        text = target.read_text()
        addition = apply(code, text)
        target.write_text(text.rstrip("\n") + "\n\n# --- the README's quick start\n" + addition + "\n")
        print(f"--- appended to {filename}:\n{addition}\n")


if __name__ == "__main__":
    if sys.argv[1] == "--pip-args":
        print(*pip_args(Path(sys.argv[2]).read_text(), sys.argv[3]), sep="\n")
    else:
        main(*sys.argv[1:])
