"""What an official document about a case says: plain values, no Django.

The case models fill a DocumentData (kongchuo.cases.paperwork); kongchuo.cases.documents turns it into a .docx.
Everything is text as it is to be printed (display labels, not codes); empty strings print as blank cells.
The ID number is the full value: these documents are served on the guardian and filed as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Person:
    """A guardian (监护人): name, relation to the child (父亲, 母亲, 祖母 …) and phone."""

    name: str
    relation: str = ""
    phone: str = ""


@dataclass(frozen=True)
class PersuasionEntry:
    """One persuasion (劝返) attempt: when, who went, where, how (入户家访, 电话, 联合劝返 …), with what result."""

    date: date
    who: str
    where: str
    how: str
    result: str


@dataclass(frozen=True)
class DocumentData:
    kind: str  # one of documents.KINDS
    number: str  # document number, e.g. "城教控辍〔2026〕第0012号"
    issued_on: date
    issuing_unit: str  # e.g. "城口县巴山镇人民政府" / "巴山镇中心小学" / "城口县教育委员会"
    county: str
    township: str
    school: str
    child_name: str
    gender: str
    birth_date: date
    age: int
    ethnicity: str
    id_number: str
    health: str
    national_student_number: str
    grade: str
    household_address: str
    registration_address: str
    current_address: str
    guardians: tuple[Person, ...]
    dropout_reason: str
    family_situation: str
    deadline: date | None = None  # 限期复学通知书 (7 days after issue when None) and 入学（复学）通知书
    persuasion_done: bool = False
    persuasion_count: int = 0
    persuasion_result: str = ""
    reason_not_returned: str = ""
    persuading_unit: str = ""
    responsible_person: str = ""
    responsible_phone: str = ""
    deferral_approved: bool = False
    persuasion_log: tuple[PersuasionEntry, ...] = ()
    contact: str = ""
    contact_phone: str = ""
    visit: PersuasionEntry | None = None  # 家访记录单: the one visit, plus visit_notes
    visit_notes: str = ""
