from django.contrib.auth import views as auth_views
from django.urls import path

from kongchuo.accounts import views as accounts
from kongchuo.audit import views as audit
from kongchuo.enrolments import views as enrolments
from kongchuo.people import views as people
from kongchuo.places import views as places
from kongchuo.web import views as web

urlpatterns = [
    path("", web.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/", auth_views.PasswordChangeView.as_view(template_name="accounts/password.html", success_url="/"), name="password_change"
    ),
    path("children/", people.child_list, name="child_list"),
    path("children/export.xlsx", people.child_export, name="child_export"),
    path("children/<int:child_id>/", people.child_detail, name="child_detail"),
    path("children/<int:child_id>/edit/", people.child_edit, name="child_edit"),
    path("children/<int:child_id>/guardians/add/", people.guardian_add, name="guardian_add"),
    path("children/<int:child_id>/guardians/<int:guardian_id>/delete/", people.guardian_remove, name="guardian_remove"),
    path("enrolments/<int:enrolment_id>/transition/", enrolments.enrolment_transition_view, name="enrolment_transition"),
    path("schools/", places.school_list, name="school_list"),
    path("schools/<int:school_id>/", places.school_detail, name="school_detail"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("users/", accounts.user_list, name="user_list"),
    path("users/new/", accounts.user_create_view, name="user_create"),
    path("users/<int:user_id>/", accounts.user_edit_view, name="user_edit"),
]
