"""axe-core in the browser tests: WCAG 2.2 A/AA checks of the page a Selenium driver shows.

axe-core is vendored (``tests/vendor/``, see its README): injected with ``execute_script``,
nothing fetched at test time. Each offending node is the project's own or the framework's
(Django admin's or DRF's markup): ``own`` is a CSS selector list of the page's regions that the
project's templates or admin code draw; a node inside one of them (``Element.closest``) is the
project's, any other is the framework's. A node axe names but the page no longer has counts as
the project's: unproven, it is not waved through.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

AXE_VERSION = "4.14.1"
AXE_SOURCE = Path(__file__).parent / "vendor" / f"axe-core-{AXE_VERSION}.min.js"
# WCAG 2.0, 2.1 and 2.2 success criteria at levels A and AA (2.2 added no level A rule to axe).
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
IMPACTS = ("critical", "serious", "moderate", "minor")
# What a screen reader user moves by, beyond WCAG's tags (axe's best practices): one main
# landmark, all content in landmarks, one h1, headings in order, landmarks told apart.
STRUCTURE_RULES = (
    "landmark-one-main",
    "region",
    "page-has-heading-one",
    "heading-order",
    "landmark-unique",
    "landmark-no-duplicate-main",
)

# Runs axe on the whole document; one row per offending node, classified in the page.
RUN_SCRIPT = """
const [own, runOnly, done] = arguments;
axe.run(document, {runOnly, resultTypes: ['violations']}).then(
  (results) => done(results.violations.flatMap((violation) => violation.nodes.map((node) => {
    const selector = node.target[node.target.length - 1];
    const element = typeof selector === 'string' ? document.querySelector(selector) : null;
    return {
      rule: violation.id,
      impact: node.impact || violation.impact || 'minor',
      target: node.target.join(' >> '),
      html: node.html,
      help: violation.help,
      own: own === null ? false : (element === null || element.closest(own) !== null),
    };
  }))),
  (error) => done({error: String(error)}),
);
"""


@cache
def axe_source() -> str:
    return AXE_SOURCE.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Finding:
    """One node that fails one axe rule."""

    rule: str
    impact: str
    target: str
    html: str
    help: str
    own: bool

    def __str__(self) -> str:
        return f"[{self.impact}] {self.rule} ({self.help}): {self.target}  {self.html[:160]}"


@dataclass(frozen=True)
class Result:
    """axe's findings on one page: the project's (``own``) and the framework's."""

    label: str
    findings: tuple[Finding, ...]

    @property
    def own(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.own]

    @property
    def framework(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.own]

    def counts(self, own: bool) -> str:
        """Findings by impact, e.g. ``"2 serious, 1 moderate"``, or ``"0"``."""
        counted = Counter(finding.impact for finding in self.findings if finding.own is own)
        return ", ".join(f"{counted[impact]} {impact}" for impact in IMPACTS if counted[impact]) or "0"


def run_axe(
    driver: Any, label: str, own: str | None = "html", rules: tuple[str, ...] | None = None
) -> Result:
    """Run axe's WCAG 2.2 A/AA rules (or only ``rules``) on the page ``driver`` shows.

    ``own``: the selector list of the project's regions; ``"html"`` (the default) when the
    project draws the whole page, ``None`` when it draws nothing of it (DRF's pages).
    """
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(30)
    run_only = {"type": "rule", "values": list(rules)} if rules else {"type": "tag", "values": list(TAGS)}
    rows = driver.execute_async_script(RUN_SCRIPT, own, run_only)
    if isinstance(rows, dict):
        raise AssertionError(f"axe failed on {label}: {rows['error']}")
    return Result(label, tuple(Finding(**row) for row in rows))


def table(results: list[Result]) -> str:
    """A Markdown table of the pages' findings by impact, own and framework."""
    lines = ["| page | own | framework |", "| --- | --- | --- |"]
    lines += [f"| {result.label} | {result.counts(True)} | {result.counts(False)} |" for result in results]
    return "\n".join(lines)
