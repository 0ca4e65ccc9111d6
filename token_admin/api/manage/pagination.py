"""Cursor pages of the staff resource API, bounded whatever the filters.

Every list walks its table by primary key (an index both ways, unique, as a cursor needs).
Filters on a foreign key (user, app, device) narrow that walk through their index. Other
filters (``live``, a date range, a type) have no index that yields their rows in id order: a
page of such matches could mean walking the whole table to find them, or to find there are
none. So with one of those filters a page looks at most at ``window_size`` rows of the walk
and answers the matches among them: a page may hold fewer than ``page_size`` results, even
none, while ``next`` is set; a client follows ``next`` until it is null (as Google's AIP-158
allows, and DynamoDB's filtered scans do). The cursors are DRF's own, so a client cannot tell
the two kinds of page apart but by their size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from token_admin.api.manage.filters import WindowedFilterSet
from token_admin.api.manage.serializers import MAX_ID

# Set on the view by ``WindowedFilterBackend`` for a list with a filter no index serves.
WINDOW_FILTER = "window_filter"


class WindowedFilterBackend(DjangoFilterBackend):
    """django-filter, with the filters of a ``WindowedFilterSet`` split in two: the indexed
    ones filter the queryset; the others are left on the view for the paginator to apply
    within its window. A detail request (a single row) gets every filter at once."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        setattr(view, WINDOW_FILTER, None)
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        if not isinstance(filterset, WindowedFilterSet) or getattr(view, "detail", False):
            return filterset.qs
        if filterset.has_window_filters():
            setattr(view, WINDOW_FILTER, filterset.window_filter)
        return filterset.filter_indexed(queryset)


class StaffCursorPagination(CursorPagination):
    """Newest first by primary key; ``?ordering=id`` for oldest first, ``?page_size=`` up to 200.
    With a filter no index serves, a page looks at no more than ``window_size`` rows."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    window_size = 1000
    cursor_query_description = (
        "The cursor of a page: the `next` or `previous` link of the page before. With a filter other "
        "than user, application, device or actor_user, a page looks at no more than 1,000 rows and may "
        "hold fewer results than page_size, even none, while `next` is set: follow `next` until it "
        "is null."
    )

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        # DRF hands the position to the database as it came: a crafted one must not be a 500.
        if cursor is not None and cursor.position is not None:
            try:
                position = int(cursor.position)
            except ValueError:
                raise NotFound(self.invalid_cursor_message) from None
            if not 0 <= position <= MAX_ID:
                raise NotFound(self.invalid_cursor_message)
        return cursor

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        narrow = getattr(view, WINDOW_FILTER, None)
        self.windowed = narrow is not None
        if narrow is None:
            return super().paginate_queryset(queryset, request, view)
        return self.paginate_window(queryset, narrow, request, view)

    def paginate_window(
        self,
        queryset: QuerySet[Any],
        narrow: Callable[[QuerySet[Any]], QuerySet[Any]],
        request: Request,
        view: Any,
    ) -> list[Any]:
        """One page of the matches among the next ``window_size`` rows after the cursor.

        Two queries: the last row of the window (an index walk of ``window_size`` entries),
        then the page, filtered within the window. The ordering is the primary key's, so a
        position is an id and never needs DRF's offsets.
        """
        self.request = request
        self.page_size = self.get_page_size(request) or type(self).page_size
        self.base_url = request.build_absolute_uri()
        ordering = self.get_ordering(request, queryset, view)
        self.cursor = self.decode_cursor(request)
        reverse = self.cursor.reverse if self.cursor else False
        start = self.cursor.position if self.cursor else None
        # Walking back (a "previous" cursor) walks the list's order the other way round.
        descending = ordering[0].startswith("-") != reverse
        walk = queryset.order_by("-pk" if descending else "pk")
        if start is not None:
            walk = walk.filter(pk__lt=start) if descending else walk.filter(pk__gt=start)
        edges = list(walk.values_list("pk", flat=True)[self.window_size - 1 : self.window_size])
        edge = edges[0] if edges else None  # None: the walk ends within the window
        window = walk
        if edge is not None:
            window = walk.filter(pk__gte=edge) if descending else walk.filter(pk__lte=edge)
        matches = list(narrow(window)[: self.page_size + 1])
        page = matches[: self.page_size]
        # Where the walk goes on: after the page if more matches wait, else after the window.
        onward = page[-1].pk if len(matches) > len(page) else edge

        if not reverse:
            self.page = page
            self.next_at = onward
            self.has_next = onward is not None
            self.has_previous = start is not None
            # Everything before this page: before its first row, or, if it is empty, before
            # where the walk stopped (the rows it looked at matched nothing).
            self.previous_at = page[0].pk if page else onward
        else:
            self.page = list(reversed(page))
            self.has_previous = onward is not None
            self.previous_at = onward
            self.has_next = start is not None
            self.next_at = self.page[-1].pk if self.page else onward
        self.display_page_controls = self.has_previous or self.has_next
        return self.page

    def get_next_link(self) -> str | None:
        if not self.windowed:
            return super().get_next_link()
        if not self.has_next:
            return None
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=self.next_at))

    def get_previous_link(self) -> str | None:
        if not self.windowed:
            return super().get_previous_link()
        if not self.has_previous:
            return None
        return self.encode_cursor(Cursor(offset=0, reverse=True, position=self.previous_at))
