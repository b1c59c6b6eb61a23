from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from kongchuo.accounts.forms import UserForm
from kongchuo.accounts.scoping import users_for
from kongchuo.accounts.services import user_create, user_update
from kongchuo.core.forms import apply_validation_error
from kongchuo.core.paging import paginate


def user_list(request):
    qs = users_for(request.user).order_by("role", "username")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(username__contains=q) | qs.filter(full_name__contains=q)
    return render(request, "accounts/user_list.html", {"q": q, **paginate(request, qs)})


def user_create_view(request):
    users_for(request.user)  # authorises: only county admins manage users
    form = UserForm(request.POST or None, admin=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        data.pop("is_active")
        try:
            user = user_create(actor=request.user, **data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"已新增用户 {user.username}")
            return redirect("user_list")
    return render(request, "accounts/user_form.html", {"form": form, "editing": None})


def user_edit_view(request, user_id: int):
    editing = users_for(request.user).filter(pk=user_id).first()
    if editing is None:
        raise Http404("没有找到该用户，或不在您的管辖范围内")
    form = UserForm(request.POST or None, admin=request.user, editing=editing, initial=UserForm.initial_for(editing))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        data.pop("username")
        try:
            user_update(actor=request.user, user=editing, **data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"已保存用户 {editing.username}")
            return redirect("user_list")
    return render(request, "accounts/user_form.html", {"form": form, "editing": editing})
