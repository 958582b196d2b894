"""`Library.has_work`: true exactly when a scan would do something."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textlens import Library


def test_has_work_follows_the_queue(library: Library, text_image: Callable[..., Path]) -> None:
    assert not library.has_work()
    record = library.add([text_image("a.png", ["has work"])])
    assert library.has_work()
    library.scan()
    assert not library.has_work()
    library.ocr(record.id)  # runs at once; nothing left afterwards
    assert not library.has_work()
    other = library.add([text_image("b.png", ["removed before its scan"])])
    library.remove(other.id)
    assert not library.has_work()  # its content has no attachment left
