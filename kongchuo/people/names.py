"""Names: cleaning and pinyin (pypinyin) so a list can be searched by 拼音首字母."""

import functools
import re
import unicodedata

from pypinyin import Style, lazy_pinyin

_SPACES = re.compile(r"\s+")
_DOTS = re.compile(r"[·•・．.‧∙⋅]")  # also U+2027, U+2219, U+22C5, which IMEs and Word produce


def clean_name(raw: str) -> str:
    """Fold full-width forms, drop stray spaces, unify the interpunct of minority names (买买提·艾力)."""
    name = unicodedata.normalize("NFKC", str(raw or "")).strip()
    name = _SPACES.sub("", name)
    return _DOTS.sub("·", name)


@functools.lru_cache(maxsize=65_536)  # an import of a county's lists meets the same names again and again
def name_pinyin(name: str) -> tuple[str, str]:
    """('zhangxiaoming', 'zxm'); characters pypinyin does not know are kept as they are."""
    syllables = [s for s in lazy_pinyin(name.replace("·", ""), style=Style.NORMAL, errors="default") if s.strip()]
    full = "".join(syllables).lower()
    initials = "".join(s[0] for s in syllables).lower()
    return full[:120], initials[:20]
