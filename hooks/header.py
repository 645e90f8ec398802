"""Tell a jupytext notebook script from a plain Python module by its header, without jupytext.

A `.py` written by jupytext (and by the notebooks-to-py hook) starts, after an optional shebang
and coding line, with a commented YAML block whose top key is `jupyter:`:

    # ---
    # jupyter:
    #   jupytext: ...
    # ---

A module like `train.py` has no such block, so the post-checkout hook never turns it into a
notebook. Cell markers such as `# %%` alone are not enough: editors use them in plain scripts.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"#\s*---\s*$")
_JUPYTER_KEY = re.compile(r"#\s*jupyter\s*:\s*$")
_PREAMBLE = re.compile(r"#!|#.*coding[:=]")


def has_jupytext_header(text: str) -> bool:
    lines = text.splitlines()
    start = 0
    while start < len(lines) and start < 2 and _PREAMBLE.match(lines[start]):
        start += 1
    if start >= len(lines) or not _FENCE.match(lines[start]):
        return False
    for line in lines[start + 1 :]:
        if _FENCE.match(line) or not line.startswith("#"):
            return False
        if _JUPYTER_KEY.match(line):
            return True
    return False
