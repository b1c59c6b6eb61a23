"""Names: cleaning and pinyin (pypinyin) so a list can be searched by 拼音首字母."""

import functools
import re
import unicodedata

from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT, RE_HANS

# Characters that show as nothing, which copying from web pages, Word or chat apps leaves in a cell: zero-width
# space, joiners and non-joiners, word joiner, soft hyphen, byte-order mark, direction marks and embeddings.
INVISIBLE = "".join(chr(c) for first, last in ((0xAD, 0xAD), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064),
                                              (0x2066, 0x2069), (0xFEFF, 0xFEFF)) for c in range(first, last + 1))
_INVISIBLE = re.compile(f"[{INVISIBLE}]")


def without_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


_SPACES = re.compile(r"\s+")
_DOTS = re.compile(r"[·•・．.‧∙⋅]")  # also U+2027, U+2219, U+22C5, which IMEs and Word produce


def clean_name(raw: str) -> str:
    """Fold full-width forms, drop stray spaces, unify the interpunct of minority names (买买提·艾力)."""
    name = unicodedata.normalize("NFKC", str(raw or "")).strip()
    name = _SPACES.sub("", without_invisible(name))
    return _DOTS.sub("·", name)


@functools.lru_cache(maxsize=65_536)  # an import of a county's lists meets the same names again and again
def name_pinyin(name: str) -> tuple[str, str]:
    """('zhangxiaoming', 'zxm'); characters pypinyin does not know are kept as they are."""
    text = name.replace("·", "") if "·" in name else name
    if (readings := _readings(text)) is not None:  # each character's own reading: what lazy_pinyin gives here
        full, initials = "".join([r[0] for r in readings]), "".join([r[1] for r in readings])
    else:
        syllables = [s for s in lazy_pinyin(text, style=Style.NORMAL, errors="default") if s.strip()]
        full, initials = "".join(syllables).lower(), "".join(s[0] for s in syllables).lower()
    return full[:120], initials[:20]


def _readings(text: str) -> list[tuple[str, str]] | None:
    """Each character's (pinyin, initials) if pypinyin would read `text` character by character: all of it
    Chinese characters and no part of it (two characters or more) a word of its phrase dictionary (单于, 长孙,
    朝阳…); else None.

    Then each character's own reading gives exactly what lazy_pinyin gives for the whole name, at a
    fraction of the cost (its segmenter and style converter run per name: ~25 µs; this, ~1 µs).
    """
    readings = [_READINGS[ch] for ch in text]
    return None if None in readings or _has_phrase(text) else readings


def _by_character(text: str) -> bool:
    return _readings(text) is not None


def _has_phrase(text: str) -> bool:
    n = len(text)
    if n < 2:
        return False
    if n == 2:
        return text in PHRASES_DICT
    if n == 3:  # most names
        return text[:2] in PHRASES_DICT or text[1:] in PHRASES_DICT or text in PHRASES_DICT
    return any(text[i:j] in PHRASES_DICT for i in range(n - 1) for j in range(i + 2, n + 1))


class _Readings(dict):
    """A Chinese character → (its pinyin, their initials), looked up once each (a few thousand); None for any
    other character (a letter, a digit), whose name pypinyin reads as a whole."""

    def __missing__(self, ch: str) -> tuple[str, str] | None:
        if RE_HANS.match(ch) is None:
            reading = None
        else:
            syllables = [s for s in lazy_pinyin(ch, style=Style.NORMAL, errors="default") if s.strip()]
            reading = ("".join(syllables).lower(), "".join(s[0] for s in syllables).lower())
        self[ch] = reading
        return reading


_READINGS = _Readings()
