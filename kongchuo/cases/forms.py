from decimal import Decimal

from django import forms

from kongchuo.accounts.models import User
from kongchuo.cases.models import WEEKDAY_LABELS, Case, HolidayContact, HomeTeachingSession, PersuasionRecord, SupportMeasure
from kongchuo.cases.services import CASE_FORM_FIELDS
from kongchuo.core.masking import mask_id_number


class CaseForm(forms.ModelForm):
    class Meta:
        model = Case
        fields = CASE_FORM_FIELDS
        widgets = {"family_situation": forms.Textarea(attrs={"rows": 3})}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several photos at once (Django's documented pattern); each is checked by the service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,.pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class PersuasionForm(forms.Form):
    date = forms.DateField(label="日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    method = forms.ChoiceField(label="方式", choices=PersuasionRecord.Method.choices)
    units = forms.MultipleChoiceField(label="参与单位", choices=PersuasionRecord.Unit.choices, widget=forms.CheckboxSelectMultiple)
    participants = forms.CharField(label="参与人员", max_length=200)
    place = forms.CharField(label="地点", max_length=200)
    content = forms.CharField(label="谈话要点", widget=forms.Textarea(attrs={"rows": 4}))
    result = forms.CharField(label="结果", max_length=200)
    next_step = forms.CharField(label="下一步", max_length=200, required=False)
    attachments = MultipleFileField(label="照片、签字材料（可多选）", required=False)


class MoveForm(forms.Form):
    reason = forms.CharField(label="理由", widget=forms.Textarea(attrs={"rows": 2}))
    evidence = forms.CharField(label="依据/材料", required=False, max_length=300)


def _date(label: str, required: bool = True) -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


def _hours(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=3,
        decimal_places=1,
        min_value=Decimal("0.5"),
        max_value=Decimal("8"),
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
    )


class HomeTeachingPlanForm(forms.Form):
    teachers = forms.CharField(label="送教教师（姓名、电话）", max_length=200)
    teacher_users = forms.ModelMultipleChoiceField(
        label="送教教师的系统账号（可在手机上登记送教记录）",
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    content = forms.CharField(label="送教内容（送文化、送康复、送活动、送温暖等）", widget=forms.Textarea(attrs={"rows": 3}))
    weekdays = forms.TypedMultipleChoiceField(
        label="每周送教日", coerce=int, choices=[(n + 1, d) for n, d in enumerate(WEEKDAY_LABELS)], widget=forms.CheckboxSelectMultiple
    )
    class_hours = _hours("每次学时")
    schedule_note = forms.CharField(label="时间安排（如：下午 14:30–16:30）", max_length=100, required=False)
    start_date = _date("开始日期")
    end_date = _date("结束日期（可空）", required=False)
    certificate_no = forms.CharField(label="残疾证号（或县级以上医院诊断证明编号）", max_length=40, required=False)
    certificate = forms.FileField(
        label="残疾证或诊断证明扫描件（照片或 PDF）", required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*,.pdf"})
    )

    def __init__(self, *args, teachers=None, certificate_on_file: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if teachers is not None:
            self.fields["teacher_users"].queryset = teachers
        # The number embeds the ID number: never put it back in a form; blank keeps the one on file.
        if certificate_on_file:
            self.fields["certificate_no"].widget.attrs["placeholder"] = f"已登记 {mask_id_number(certificate_on_file)}，不改请留空"


class HomeTeachingSessionForm(forms.Form):
    date = _date("日期")
    class_hours = _hours("学时")
    mode = forms.ChoiceField(label="形式", choices=HomeTeachingSession.Mode.choices)
    teachers = forms.CharField(label="送教教师", max_length=200)
    content = forms.CharField(label="送教内容", widget=forms.Textarea(attrs={"rows": 3}))
    photos = MultipleFileField(label="照片（可多选，可直接拍照）", required=False)


class HolidayContactForm(forms.Form):
    date = _date("日期")
    method = forms.ChoiceField(label="方式", choices=HolidayContact.Method.choices)
    notes = forms.CharField(label="情况记录", widget=forms.Textarea(attrs={"rows": 3}))


class SupportMeasureForm(forms.Form):
    prefix = "support"  # it shares the case page with the document form's `kind`

    kind = forms.ChoiceField(label="措施", choices=SupportMeasure.Kind.choices)
    responsible = forms.CharField(label="责任人（单位、电话）", max_length=100)
    start_date = _date("开始日期")
    end_date = _date("结束日期（可空）", required=False)
    notes = forms.CharField(label="说明", max_length=300, required=False)


class SupportEndForm(forms.Form):
    end_date = _date("结束日期")
    note = forms.CharField(label="结束说明", max_length=100, required=False)


class CaseRulesForm(forms.ModelForm):
    class Meta:
        from kongchuo.cases.models import CaseRules

        model = CaseRules
        fields = [f.name for f in CaseRules._meta.concrete_fields if f.name not in ("id", "county")]
