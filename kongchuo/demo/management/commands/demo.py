"""`kongchuo demo [--serve] [--seed N] [--scale X]`: the demo county, ready to log in to."""

import datetime as dt
import time
import unicodedata
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from kongchuo.accounts.models import User
from kongchuo.demo.generator import DEFAULT_AS_OF, DEFAULT_SEED, generate
from kongchuo.demo.lists import ORDER, write_lists
from kongchuo.demo.loader import (
    COUNT_LABELS,
    DEMO_PASSWORD,
    DEMO_USERS,
    DemoLoadError,
    load,
    load_places,
    loaded,
    other_load_message,
    same_load,
)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """Left-align by display width, so columns of Chinese text line up in a terminal."""
    return text + " " * max(width - _width(text), 0)


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [indent + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, indent + "  ".join("-" * w for w in widths))
    return lines


class Command(BaseCommand):
    help = "载入演示县（城口县）数据（可重复运行，不会重复载入），列出演示账号；--serve 随后启动网站。"

    def add_arguments(self, parser):
        parser.add_argument("--serve", action="store_true", help="载入后启动网站")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"随机种子（默认 {DEFAULT_SEED}）")
        parser.add_argument("--scale", type=float, default=1.0, help="儿童数量的比例（默认 1，即约 2.8 万名学生）")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=DEFAULT_AS_OF,
                            help=f"数据基准日（默认 {DEFAULT_AS_OF:%Y-%m-%d}）")
        parser.add_argument("--places-only", action="store_true", help="只载入区划、学校和演示账号（之后用数据导入导入名单）")
        parser.add_argument("--lists", type=Path, metavar="DIR", help="把演示县的各部门名单写成文件（学校、户籍、学籍、残联……）到 DIR")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, serve, seed, scale, as_of, host, port, places_only, lists, **options):
        if not 0 < scale <= 2:
            raise CommandError("--scale 应在 0 到 2 之间（1 表示完整规模）")
        if lists is not None:
            paths = write_lists(generate(seed=seed, scale=scale, as_of=as_of), lists)
            self.stdout.write(f"演示县名单已写入 {lists}（按此顺序导入）：")
            for source in ORDER:
                self.stdout.write(f"  kongchuo import {source} {paths[source]}")
            return
        call_command("init", stdout=self.stdout, stderr=self.stderr)
        if places_only:
            counts = load_places(generate(seed=seed, scale=scale, as_of=as_of))
            self.stdout.write("城口县区划与学校已在数据库中，未做改动。" if counts is None else
                              f"已载入区划 {counts['divisions']} 个、学校 {counts['schools']} 所、班级 {counts['classes']} 个。")
            self._logins()
            return
        marker = loaded()
        if marker is not None and not same_load(marker, seed=seed, scale=scale, as_of=as_of):
            raise CommandError(other_load_message(marker, seed=seed, scale=scale, as_of=as_of))
        if marker is not None:
            self.stdout.write(f"演示县数据此前已载入（种子 {seed}，载入于 {marker.loaded_at:%Y-%m-%d %H:%M}），本次未做改动。")
            counts = marker.counts
        else:
            self.stdout.write(f"正在生成演示县：城口县（种子 {seed}，规模 {scale:g}，基准日 {as_of:%Y-%m-%d}）……")
            started = time.perf_counter()
            dataset = generate(seed=seed, scale=scale, as_of=as_of)
            try:
                result = load(dataset)
            except DemoLoadError as exc:
                raise CommandError(str(exc)) from exc
            counts = result.counts
            if result.already_loaded:
                self.stdout.write("演示县数据此前已载入，本次未做改动。")
            else:
                self.stdout.write(self.style.SUCCESS(
                    f"演示县数据已载入：共 {result.rows:,} 行，用时 {time.perf_counter() - started:.1f} 秒。"))
        self.stdout.write("")
        self.stdout.write("载入的数据：")
        rows = [["内容", "数量"]] + [[COUNT_LABELS.get(k, k), f"{v:,}"] for k, v in counts.items()]
        self.stdout.write("\n".join(_table(rows)))
        self.stdout.write("")
        self._logins()
        if serve:
            self.stdout.write("")
            call_command("serve", host=host, port=port, stdout=self.stdout, stderr=self.stderr)
        else:
            self.stdout.write("")
            self.stdout.write(f"启动网站：kongchuo serve（或 kongchuo demo --serve），然后用浏览器打开 http://{host}:{port}/")

    def _logins(self) -> None:
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        users = {u.username: u for u in User.objects.filter(username__in=[d.username for d in DEMO_USERS])
                 .select_related("division", "school", "school_class__school")}
        rows = [["用户名", "密码", "角色", "所属单位"]]
        for spec in DEMO_USERS:
            user = users.get(spec.username)
            if user is None:
                continue
            role = user.get_role_display() + (f"（{user.get_department_display()}）" if user.department else "")
            rows.append([user.username, DEMO_PASSWORD, role, user.node_name])
        self.stdout.write("\n".join(_table(rows)))
