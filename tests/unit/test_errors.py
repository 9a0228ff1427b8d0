"""The exception tree drawn in revsearch.errors' docstring is the real one."""

from __future__ import annotations

import re

import revsearch.api.errors
import revsearch.errors
from revsearch.errors import RevSearchError

MODULES = (revsearch.errors.__name__, revsearch.api.errors.__name__)


def error_classes() -> set[type[RevSearchError]]:
    """RevSearchError and every subclass that revsearch.errors or revsearch.api.errors declare."""
    found: set[type[RevSearchError]] = {RevSearchError}
    todo = [RevSearchError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return {cls for cls in found if cls.__module__ in MODULES}


def test_every_error_class_is_drawn_with_its_status_and_code() -> None:
    tree = revsearch.errors.__doc__ or ""
    drawn = {
        name: (int(status), code)
        for name, status, code in re.findall(r"(\w+Error)\s+(?:\(api\)\s+)?(\d{3}) (\w+)", tree)
    }
    assert drawn == {cls.__name__: (cls.http_status, cls.code) for cls in error_classes()}


def test_every_error_class_says_what_it_means() -> None:
    for cls in error_classes():
        assert cls.__doc__, f"{cls.__name__} has no docstring"  # not inherited: None
