"""Specimen records: catalog numbers unique per collection, processing status, search."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from textlens import ConflictError, Library


def test_a_record_becomes_a_specimen_and_is_found_by_catalog_number(
    library: Library, text_image: Callable[..., Path]
) -> None:
    record = library.add([text_image("label.png", ["Cladonia"])])
    specimen = library.set_specimen(record.id, catalog_number="WIS-L-0012033",
                                    processing_status="unprocessed", collection="WIS-L")
    assert (specimen.catalog_number, specimen.processing_status, specimen.collection) == (
        "WIS-L-0012033", "unprocessed", "WIS-L")
    assert [r.id for r in library.specimens("WIS-L-0012033")] == [record.id]
    assert [r.id for r in library.specimens("WIS-L-0012033", "WIS-L")] == [record.id]
    assert library.specimens("WIS-L-0012033", "NY") == []
    assert [h.record_id for h in library.search("WIS-L-0012033").results] == [record.id]


def test_a_catalog_number_is_unique_within_its_collection(library: Library) -> None:
    first, second = library.add([], title="a"), library.add([], title="b")
    library.set_specimen(first.id, catalog_number="NY-1", collection="NY")
    with pytest.raises(ConflictError, match="already record"):
        library.set_specimen(second.id, catalog_number="NY-1", collection="NY")
    library.set_specimen(second.id, catalog_number="NY-1", collection="TENN")  # another one
    assert len(library.specimens("NY-1")) == 2
    library.set_specimen(first.id)  # clears it
    assert library.record(first.id).catalog_number is None
