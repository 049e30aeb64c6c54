"""Text from outside (a policy, a tag, a name) quoted safely: one rule for every place the engine
shows hostile text, the policy's errors and the peering map alike.

Hidden characters are those a reader cannot see or that change what the text around them seems
to say: control characters (C0 with tab and newline, DEL, C1), format characters (bidi overrides
and isolates U+202A-202E and U+2066-2069, zero widths U+200B-200F, the BOM), line and paragraph
separators, and surrogates. A policy may hold none of them; anything shown writes each as its
escape (``\\u202e``).
"""

from __future__ import annotations

import unicodedata

#: Unicode categories of the hidden characters
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def is_hidden(character: str) -> bool:
    return unicodedata.category(character) in HIDDEN_CATEGORIES


def escaped(text: str) -> str:
    """``text`` with each hidden character written as its escape (``\\u202e``, ``\\U000e0041``)."""
    if text.isprintable():  # the usual case, at C speed: False for every Other and Separator but space
        return text
    return "".join(
        (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}") if is_hidden(c) else c for c in text
    )
