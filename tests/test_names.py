"""Pinyin of names: the per-character fast path gives exactly what pypinyin gives for the whole name."""

import random

import pytest
from pypinyin import Style, lazy_pinyin

from kongchuo.people import names
from kongchuo.people.names import name_pinyin

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜单解朴查区覃仇"
GIVEN = "子梓浩宇轩涵欣怡雨晨思佳俊杰文博一诗可嘉明睿泽若熙雅琪晓婷鑫磊涛鹏阳瑞航乐心语彤萱妍悦梦洋天凯锦诚然安宁长重行朝和"


def pypinyin_reading(name: str) -> tuple[str, str]:
    """What name_pinyin returned before the fast path: pypinyin over the whole name."""
    syllables = [s for s in lazy_pinyin(name.replace("·", ""), style=Style.NORMAL, errors="default") if s.strip()]
    return "".join(syllables).lower()[:120], "".join(s[0] for s in syllables).lower()[:20]


def test_the_fast_path_agrees_with_pypinyin_on_many_names():
    rng = random.Random(7)
    generated = {rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2, 3]))) for _ in range(20_000)}
    for name in sorted(generated):
        assert name_pinyin.__wrapped__(name) == pypinyin_reading(name), name


@pytest.mark.parametrize(
    "name, expected",
    [
        ("张小明", ("zhangxiaoming", "zxm")),
        ("朝阳", ("zhaoyang", "zy")),  # a word of pypinyin's phrase dictionary: read as the word (not chao)
        ("长孙无忌", ("zhangsunwuji", "zswj")),  # so is 长孙
        ("重庆", ("chongqing", "cq")),
        ("买买提·艾力", ("maimaitiaili", "mmtal")),
        ("李Tom", ("litom", "lt")),  # not all Chinese: pypinyin's own way
        ("王小明2", ("wangxiaoming2", "wxm2")),
    ],
)
def test_names_with_words_or_other_characters_take_pypinyin_s_own_path(name, expected):
    assert name_pinyin.__wrapped__(name) == pypinyin_reading(name) == expected


def test_which_names_are_read_character_by_character():
    assert names._by_character("张小明") and names._by_character("欧阳娜娜")
    assert not names._by_character("朝阳")  # a phrase
    assert not names._by_character("张朝阳")  # contains one
    assert not names._by_character("李Tom") and not names._by_character("王2")
