"""Kongchuo (控辍保学管理平台): keep every child aged 6–15 in school."""

__version__ = "0.1.0"
