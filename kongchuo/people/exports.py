from kongchuo.core.masking import mask_id_number
from kongchuo.core.xlsx import write_table

HEADERS = ["姓名", "性别", "出生日期", "身份证号（脱敏）", "证件号状态", "户籍乡镇", "当前学校", "当前班级"]


def child_list_xlsx(children) -> tuple[bytes, int]:
    rows = (
        (
            c.name,
            c.get_gender_display(),
            c.birth_date.isoformat(),
            mask_id_number(c.id_number),
            c.get_id_number_status_display(),
            c.township.name if c.township else "",
            c.current_school.name if c.current_school else "",
            str(c.current_class) if c.current_class else "",
        )
        for c in children.iterator(chunk_size=2000)
    )
    return write_table("儿童名单", HEADERS, rows)
