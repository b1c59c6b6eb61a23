from django.conf import settings
from django.core.paginator import Page, Paginator


def paginate(request, queryset) -> dict:
    """The page asked for, and the query string (without `page`) for the pager's links."""
    page: Page = Paginator(queryset, settings.KONGCHUO_DEFAULT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"page": page, "query": query.urlencode()}
