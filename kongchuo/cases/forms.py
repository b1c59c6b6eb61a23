from django import forms

from kongchuo.cases.models import Case, PersuasionRecord
from kongchuo.cases.services import CASE_FORM_FIELDS


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
