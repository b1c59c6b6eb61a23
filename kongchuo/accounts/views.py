from django.shortcuts import render

from kongchuo.accounts.scoping import users_for
from kongchuo.core.paging import paginate


def user_list(request):
    return render(request, "accounts/user_list.html", paginate(request, users_for(request.user).order_by("role", "username")))
