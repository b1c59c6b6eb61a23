"""The ledger as the county submits it upward (.xlsx), one row per case, ID numbers masked."""

from kongchuo.cases.models import joint_count
from kongchuo.core.masking import mask_id_number
from kongchuo.core.xlsx import write_table

HEADERS = [
    "台账编号",
    "乡镇",
    "学校",
    "姓名",
    "性别",
    "出生日期",
    "身份证号",
    "类型",
    "状态",
    "辍学原因",
    "家庭情况",
    "是否劝返",
    "劝返次数",
    "联合劝返次数",
    "劝返结果",
    "未返校原因",
    "劝返单位",
    "责任人",
    "联系电话",
    "是否批准延缓",
    "立案时间",
    "销号时间",
    "核查人",
    "填写人",
    "审核人",
]


def ledger_xlsx(cases, *, unmasked: bool = False) -> tuple[bytes, int]:
    rows = []
    for c in cases.select_related("child", "township", "school", "verified_by", "filled_by", "reviewed_by").prefetch_related("persuasions"):
        records = sorted(c.persuasions.all(), key=lambda r: (r.date, r.id))
        rows.append(
            [
                c.number,
                c.township.name if c.township else "",
                c.school.name if c.school else "",
                c.child.name,
                c.child.get_gender_display(),
                c.child.birth_date.isoformat(),
                (c.child.id_number or "") if unmasked else mask_id_number(c.child.id_number),
                c.get_kind_display(),
                c.get_state_display(),
                c.get_dropout_reason_display(),
                c.family_situation,
                "是" if records else "否",
                len(records),
                joint_count(records),
                records[-1].result if records else "",
                c.reason_not_returned,
                c.persuading_unit,
                c.responsible_person,
                c.responsible_phone,
                "是" if c.deferral_approved else "否",
                c.opened_at.strftime("%Y-%m-%d"),
                c.closed_at.strftime("%Y-%m-%d") if c.closed_at else "",
                str(c.verified_by or ""),
                str(c.filled_by or ""),
                str(c.reviewed_by or ""),
            ]
        )
    return write_table("控辍保学台账", HEADERS, rows)
