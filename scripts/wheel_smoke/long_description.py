"""The PyPI page of a built wheel: its long description renders as PyPI renders it
(readme_renderer, GitHub-flavoured Markdown), every image and link is absolute or an anchor
of the page itself (a relative path is a broken image on PyPI), and each anchor exists.

Usage: ``python long_description.py WHEEL``; prints what it checked, exits 1 on a problem.
"""

from __future__ import annotations

import re
import sys
import zipfile
from email.parser import HeaderParser

import readme_renderer.markdown

with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = HeaderParser().parsestr(wheel.read(name).decode())
problems = []
if metadata["Description-Content-Type"] != "text/markdown":
    problems.append(f"Description-Content-Type is {metadata['Description-Content-Type']!r}")
html = readme_renderer.markdown.render(metadata.get_payload(), variant="GFM")
if not html:
    sys.exit("FAIL  the long description does not render (readme_renderer[md] installed?)")
images = re.findall(r'<img [^>]*src="([^"]*)"', html)
links = re.findall(r'<a [^>]*href="([^"]*)"', html)
ids = set(re.findall(r'id="([^"]*)"', html))
for url in images + links:
    if url.startswith("#"):
        if url[1:] not in ids:
            problems.append(f"anchor {url} names no heading")
    elif not re.match(r"(https?|mailto):", url):
        problems.append(f"relative URL {url!r} (broken on PyPI)")
for url in images:
    if not url.startswith("https://"):
        problems.append(f"image {url!r} is not https")
print(f"long description: {len(html):,} characters of HTML, {len(images)} images, {len(links)} links")
for problem in problems:
    print(f"FAIL  {problem}")
sys.exit(1 if problems else 0)
