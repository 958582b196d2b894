"""Search: query syntax, fuzziness, result shape (pages, snippets, boxes), ranking and deletion.

One library is built and scanned once for the whole module; every test only queries it (the
deletion test removes a record nothing else looks for).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from textlens import Library, QuerySyntaxError, SearchResults
from textlens.samples import render_text_image, write_pdf


@dataclass
class Corpus:
    lib: Library
    ids: dict[str, int]  # record ids by short name


# Short name -> (record title, lines of the image). Titles use words no image contains, so
# that a hit comes from the OCR text unless a test says otherwise.
IMAGES = {
    "invoice": ["The quarterly invoice from Fairbanks", "was paid by the treasurer"],
    "receipt": ["Paid the treasurer for the invoice", "Cafe receipt lemonade"],
    "specimen": ["Cladonia rangiferina specimen", "WIS-L-0012033"],
    "helmet": ["Bicycle helmet warranty", "mountain expedition"],
    "typo": ["Hello invoise typo here"],
    "mongoose": ["Ephemeral mongoose notice"],
}
TITLES = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]
WALRUS = ["Walrus colony census draft"]
PDF_PAGES = [
    "Quarterly report page one\nabout pinecones",
    "Second page about walnuts",
    "Third page mentions zebrafish only here",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("search")
    files = root / "files"
    files.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("TEXTLENS_"):
                mp.delenv(name)
        lib = Library.init(root / "lib")
        lib.set_setting("workers", "2")
        lib.set_setting("commit_interval", "0.2")
        ids: dict[str, int] = {}
        for (name, lines), title in zip(IMAGES.items(), TITLES, strict=True):
            path = files / f"{name}.png"
            render_text_image(lines, font_size=36).save(path)
            ids[name] = lib.add([path], title=title).id
        pdf = files / "report.pdf"
        write_pdf(pdf, PDF_PAGES)
        ids["report"] = lib.add([pdf], title="Golf").id
        # Title from the file name ("walrus"), page text with a word to exclude.
        walrus = files / "walrus.png"
        render_text_image(WALRUS, font_size=36).save(walrus)
        ids["walrus"] = lib.add([walrus]).id
        ids["zebra_title"] = lib.add([], title="Zebrafish husbandry", body="notes on tanks").id
        ids["cafe_title"] = lib.add([], title="Café menu", body="croissant and espresso").id
        ids["escaped"] = lib.add([], title="Cartoon", body="Tom & Jerry <script> chase").id
        report = lib.scan()
        assert report.attachments_failed == 0, report.failures
        assert report.pages_done == len(IMAGES) + len(PDF_PAGES) + 1
        # OCR must have read the rendered words, or every test below fails for the wrong reason.
        for name, lines in [*IMAGES.items(), ("walrus", WALRUS)]:
            attachment = lib.record(ids[name]).attachments[0]
            text = " ".join(p["text"] for p in lib.ocr_text(attachment.id)["pages"])
            assert " ".join(text.split()) == " ".join(" ".join(lines).split()), text
        yield Corpus(lib, ids)
        lib.close()


def record_ids(results: SearchResults) -> list[int]:
    return [hit.record_id for hit in results.results]


def found(corpus: Corpus, query: str, **kwargs: object) -> set[int]:
    return set(record_ids(corpus.lib.search(query, **kwargs)))  # type: ignore[arg-type]


def ids_of(corpus: Corpus, *names: str) -> set[int]:
    return {corpus.ids[n] for n in names}


# --------------------------------------------------------------------------- words and AND


def test_single_word_finds_every_record_with_it(corpus: Corpus) -> None:
    assert found(corpus, "invoice") == ids_of(corpus, "invoice", "receipt")


def test_search_is_case_insensitive(corpus: Corpus) -> None:
    assert found(corpus, "INVOICE") == found(corpus, "Invoice") == found(corpus, "invoice")


def test_words_must_all_appear_on_the_same_page(corpus: Corpus) -> None:
    assert found(corpus, "invoice treasurer") == ids_of(corpus, "invoice", "receipt")
    assert found(corpus, "invoice lemonade") == ids_of(corpus, "receipt")
    assert found(corpus, "invoice helmet") == set()


def test_words_in_title_and_body_of_a_record_match_together(corpus: Corpus) -> None:
    assert found(corpus, "zebrafish tanks") == ids_of(corpus, "zebra_title")


def test_unknown_word_finds_nothing(corpus: Corpus) -> None:
    results = corpus.lib.search("xylophone")
    assert results.total == 0
    assert results.results == []


def test_no_stemming_plural_is_a_different_word(corpus: Corpus) -> None:
    # Documented behaviour of the analyzer (no stemming): only fuzzy search bridges the gap.
    assert found(corpus, "invoices") == set()
    assert ids_of(corpus, "invoice", "receipt") <= found(corpus, "invoices", fuzzy=True)


# --------------------------------------------------------------------------- phrases


def test_phrase_matches_words_in_order(corpus: Corpus) -> None:
    assert found(corpus, '"invoice from"') == ids_of(corpus, "invoice")
    assert found(corpus, '"quarterly invoice from fairbanks"') == ids_of(corpus, "invoice")


def test_phrase_in_the_wrong_order_does_not_match(corpus: Corpus) -> None:
    assert found(corpus, '"from invoice"') == set()
    # Both words are on the page, just not adjacent and in this order.
    assert found(corpus, '"treasurer invoice"') == set()


def test_phrase_hit_marks_every_word_of_the_phrase(corpus: Corpus) -> None:
    hit = corpus.lib.search('"invoice from"').results[0]
    page = hit.attachments[0].pages[0]
    assert "<b>invoice</b> <b>from</b>" in page.snippet
    assert len(page.boxes) == 2


def test_phrase_combined_with_a_word(corpus: Corpus) -> None:
    assert found(corpus, '"paid the treasurer" lemonade') == ids_of(corpus, "receipt")
    assert found(corpus, '"paid the treasurer" fairbanks') == set()


# --------------------------------------------------------------------------- OR, exclusion


def test_or_matches_either_word(corpus: Corpus) -> None:
    results = corpus.lib.search("lemonade OR helmet")
    assert set(record_ids(results)) == ids_of(corpus, "receipt", "helmet")
    assert results.total == 2


def test_or_binds_tighter_than_and(corpus: Corpus) -> None:
    # treasurer AND (lemonade OR fairbanks)
    assert found(corpus, "treasurer lemonade OR fairbanks") == ids_of(corpus, "invoice", "receipt")
    assert found(corpus, "helmet lemonade OR fairbanks") == set()


def test_lowercase_or_is_an_ordinary_word(corpus: Corpus) -> None:
    assert found(corpus, "lemonade or helmet") == set()


def test_or_between_phrases(corpus: Corpus) -> None:
    assert found(corpus, '"invoice from" OR "mountain expedition"') == ids_of(
        corpus, "invoice", "helmet")


def test_exclusion_drops_matching_records(corpus: Corpus) -> None:
    assert found(corpus, "invoice -lemonade") == ids_of(corpus, "invoice")
    assert found(corpus, "invoice -fairbanks") == ids_of(corpus, "receipt")


def test_exclusion_applies_to_the_title_too(corpus: Corpus) -> None:
    assert found(corpus, "walrus") == ids_of(corpus, "walrus")
    assert found(corpus, "census -walrus") == set()


def test_words_match_across_the_pages_and_title_of_one_record(corpus: Corpus) -> None:
    # "pinecones" is on page 1 and "walnuts" on page 2 of the same PDF: the record matches,
    # and both pages are listed as where the words are.
    results = corpus.lib.search("pinecones walnuts")
    assert results.total == 1
    assert [p.page for p in results.results[0].attachments[0].pages] == [1, 2]
    title_word = corpus.lib.record(results.results[0].record_id).title.split()[0]
    assert corpus.lib.search(f"{title_word} walnuts").total >= 1


def test_exclusion_drops_the_whole_record(corpus: Corpus) -> None:
    # Title "walrus" matches; the page also says "draft", so the record should be excluded.
    assert found(corpus, "walrus -draft") == set()
    # "report" is on page 1 of the PDF, "walnuts" on page 2 of the same PDF.
    assert found(corpus, "report -walnuts") == set()


def test_excluding_a_phrase(corpus: Corpus) -> None:
    assert found(corpus, 'invoice -"from fairbanks"') == ids_of(corpus, "receipt")
    # The words are there, but not as that phrase: nothing is excluded.
    assert found(corpus, 'invoice -"fairbanks from"') == ids_of(corpus, "invoice", "receipt")


# --------------------------------------------------------------------------- prefix


def test_prefix_matches_word_beginnings(corpus: Corpus) -> None:
    assert found(corpus, "quart*") == ids_of(corpus, "invoice", "report")
    assert found(corpus, "zebra*") == ids_of(corpus, "report", "zebra_title")


def test_prefix_is_not_a_substring_search(corpus: Corpus) -> None:
    assert found(corpus, "uarterly*") == set()


def test_prefix_hit_is_marked_in_snippet(corpus: Corpus) -> None:
    results = corpus.lib.search("quart*").results
    hit = next(h for h in results if h.record_id == corpus.ids["invoice"])
    page = hit.attachments[0].pages[0]
    assert "<b>quarterly</b>" in page.snippet
    assert len(page.boxes) == 1


def test_two_letter_prefix_is_allowed(corpus: Corpus) -> None:
    assert corpus.ids["helmet"] in found(corpus, "he*")


def test_prefix_folds_accents_too(corpus: Corpus) -> None:
    assert found(corpus, "caf*") == found(corpus, "café*") == ids_of(
        corpus, "receipt", "cafe_title")


# --------------------------------------------------------------------------- fuzzy


def test_one_letter_typo_needs_fuzzy(corpus: Corpus) -> None:
    assert found(corpus, "lemonada") == set()
    assert found(corpus, "lemonada", fuzzy=True) == ids_of(corpus, "receipt")
    assert found(corpus, "helmat") == set()
    assert found(corpus, "helmat", fuzzy=True) == ids_of(corpus, "helmet")


def test_fuzzy_handles_insertion_deletion_and_transposition(corpus: Corpus) -> None:
    helmet = ids_of(corpus, "helmet")
    assert found(corpus, "helmmet", fuzzy=True) == helmet  # insertion
    assert found(corpus, "helmt", fuzzy=True) == helmet  # deletion
    assert found(corpus, "bicycel", fuzzy=True) == helmet  # transposition counts as one edit


def test_two_edits_match_only_words_of_eight_letters_or_more(corpus: Corpus) -> None:
    helmet = ids_of(corpus, "helmet")
    # 10 and 8 letters, two substitutions each: found.
    assert found(corpus, "expoditxon", fuzzy=True) == helmet
    assert found(corpus, "warrenti", fuzzy=True) == helmet
    # 7 letters ("bicycle"), two substitutions: not found.
    assert found(corpus, "bycicle", fuzzy=True) == set()
    # 6 letters, two edits: not found.
    assert found(corpus, "hxlmxt", fuzzy=True) == set()


def test_three_edits_never_match(corpus: Corpus) -> None:
    assert found(corpus, "exxxxition", fuzzy=True) == set()  # three substitutions


def test_fuzzy_ranks_exact_hits_above_near_misses(corpus: Corpus) -> None:
    results = corpus.lib.search("invoice", fuzzy=True)
    ids = record_ids(results)
    assert set(ids) == ids_of(corpus, "invoice", "receipt", "typo")
    assert ids[-1] == corpus.ids["typo"]
    assert results.fuzzy is True
    assert results.to_dict()["fuzzy"] is True


def test_fuzzy_marks_the_near_word_in_the_snippet(corpus: Corpus) -> None:
    hit = corpus.lib.search("lemonada", fuzzy=True).results[0]
    assert "<b>lemonade</b>" in hit.attachments[0].pages[0].snippet


def test_fuzzy_does_not_apply_to_exclusions(corpus: Corpus) -> None:
    # "-lemonada" excludes only that exact word, so the receipt ("lemonade") stays.
    assert found(corpus, "invoice -lemonada", fuzzy=True) == ids_of(
        corpus, "invoice", "receipt", "typo")


# --------------------------------------------------------------------------- tokens, accents


@pytest.mark.parametrize("query", ["WIS-L-0012033", "wis-l-0012033", "0012033", '"WIS L 0012033"'])
def test_catalog_number_is_found(corpus: Corpus, query: str) -> None:
    assert found(corpus, query) == ids_of(corpus, "specimen")


def test_catalog_number_hit_has_one_box_and_is_marked(corpus: Corpus) -> None:
    page = corpus.lib.search("WIS-L-0012033").results[0].attachments[0].pages[0]
    assert "<b>WIS-L-0012033</b>" in page.snippet
    assert len(page.boxes) == 1


@pytest.mark.parametrize("query", ["WIS-L-0012034", "WIS-X-0012033", "L-WIS-0012033"])
def test_a_different_catalog_number_is_not_found(corpus: Corpus, query: str) -> None:
    assert found(corpus, query) == set()


def test_accents_are_folded_both_ways(corpus: Corpus) -> None:
    expected = ids_of(corpus, "receipt", "cafe_title")
    assert found(corpus, "café") == expected  # query accent, OCR text without
    assert found(corpus, "cafe") == expected  # query without, title with
    assert found(corpus, "CAFÉ") == expected


def test_punctuation_inside_a_query_is_ignored(corpus: Corpus) -> None:
    assert found(corpus, "invoice, (treasurer)!") == ids_of(corpus, "invoice", "receipt")


def test_empty_quotes_next_to_a_word_are_ignored(corpus: Corpus) -> None:
    assert found(corpus, '"" helmet') == ids_of(corpus, "helmet")


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"unclosed phrase', "unclosed quote"),
        ('invoice "', "unclosed quote"),
        ("invoice OR", "'OR' needs a word on each side"),
        ("OR invoice", "'OR' needs a word on each side"),
        ("invoice OR OR helmet", "'OR' needs a word on each side"),
        ("invoice OR -helmet", "'OR -word' is not supported"),
        ("-foo", "cannot only exclude"),
        ("-foo -bar", "cannot only exclude"),
        ("a*", "too short a prefix"),
        ("*", "no letters before the '*'"),
        ("WIS-L*", "a prefix search takes one word"),
        ("", "no words to search for"),
        ("   ", "no words to search for"),
        ("!!! ...", "no words to search for"),
    ],
)
def test_malformed_query_raises_a_clear_error(corpus: Corpus, query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=r".") as excinfo:
        corpus.lib.search(query)
    assert message in str(excinfo.value)
    assert excinfo.value.exit_code == 2


# --------------------------------------------------------------------------- result shape


def test_results_json_shape(corpus: Corpus) -> None:
    data = corpus.lib.search("invoice").to_dict()
    assert data["query"] == "invoice"
    assert data["total"] == 2
    assert len(data["results"]) == 2
    for result in data["results"]:
        assert set(result) >= {"record", "score", "record_matched", "snippet", "attachments"}
        assert set(result["record"]) == {"id", "title"}
        assert isinstance(result["score"], float) and result["score"] > 0
        assert result["record_matched"] is False
        [attachment] = result["attachments"]
        assert set(attachment) == {"id", "name", "pages", "more_pages"}
        assert attachment["name"].endswith(".png")
        [page] = attachment["pages"]
        assert set(page) == {"page", "snippet", "boxes"}
        assert page["page"] == 1
        assert "<b>invoice</b>" in page["snippet"]


def test_boxes_are_int_quads_inside_the_page(corpus: Corpus) -> None:
    lib = corpus.lib
    for query in ("invoice treasurer", "page", "WIS-L-0012033", "quart*"):
        for result in lib.search(query).to_dict()["results"]:
            for attachment in result["attachments"]:
                sizes = {p["page"]: (p["width"], p["height"])
                         for p in lib.ocr_text(attachment["id"])["pages"]}
                for page in attachment["pages"]:
                    width, height = sizes[page["page"]]
                    assert page["boxes"], (query, page)
                    for box in page["boxes"]:
                        assert len(box) == 4 and all(type(v) is int for v in box)
                        x0, y0, x1, y1 = box
                        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, box


def test_one_box_per_matching_word(corpus: Corpus) -> None:
    page = corpus.lib.search("invoice treasurer").results[0].attachments[0].pages[0]
    assert len(page.boxes) == 2
    assert page.snippet.count("<b>") == 2


def test_box_is_where_the_word_is(corpus: Corpus) -> None:
    lib = corpus.lib
    hit = lib.search("lemonade").results[0]
    attachment = hit.attachments[0]
    [box] = attachment.pages[0].boxes
    words = lib.page_words(attachment.id, 1)
    assert [w.box for w in words if w.text.lower() == "lemonade"] == [tuple(box)]
    # "lemonade" ends the second (lower) line of the image.
    first_line_bottom = max(w.box[3] for w in words if w.text == "Paid")
    assert box[1] >= first_line_bottom


def test_snippet_html_escapes_text(corpus: Corpus) -> None:
    hit = corpus.lib.search("jerry").results[0]
    assert hit.record_matched is True
    assert hit.snippet == "Tom &amp; <b>Jerry</b> &lt;script&gt; chase"


def test_record_matched_for_title_or_body_hits(corpus: Corpus) -> None:
    by_id = {h.record_id: h for h in corpus.lib.search("zebrafish").results}
    title_hit = by_id[corpus.ids["zebra_title"]]
    assert title_hit.record_matched is True
    assert title_hit.attachments == []
    pdf_hit = by_id[corpus.ids["report"]]
    assert pdf_hit.record_matched is False
    body_hit = corpus.lib.search("croissant").results[0]
    assert body_hit.record_matched is True
    assert "<b>croissant</b>" in (body_hit.snippet or "")


def test_word_only_on_page_three_reports_page_three(corpus: Corpus) -> None:
    hit = next(h for h in corpus.lib.search("zebrafish").results
               if h.record_id == corpus.ids["report"])
    [attachment] = hit.attachments
    assert attachment.name == "report.pdf"
    assert [p.page for p in attachment.pages] == [3]
    assert "<b>zebrafish</b>" in attachment.pages[0].snippet


def test_each_pdf_page_reports_its_own_number(corpus: Corpus) -> None:
    assert [p.page for p in corpus.lib.search("walnuts").results[0].attachments[0].pages] == [2]
    assert [p.page for p in corpus.lib.search("pinecones").results[0].attachments[0].pages] == [1]


def test_total_counts_records_not_pages(corpus: Corpus) -> None:
    results = corpus.lib.search("page")
    assert results.total == 1
    [hit] = results.results
    assert [p.page for p in hit.attachments[0].pages] == [1, 2, 3]


def test_limit_caps_results_but_not_total(corpus: Corpus) -> None:
    results = corpus.lib.search("invoice", limit=1)
    assert results.total == 2
    assert len(results.results) == 1


# --------------------------------------------------------------------------- ranking


def test_title_match_ranks_above_single_mention_in_ocr_text(corpus: Corpus) -> None:
    results = corpus.lib.search("zebrafish")
    assert record_ids(results) == [corpus.ids["zebra_title"], corpus.ids["report"]]
    assert results.results[0].score > results.results[1].score
    cafe = corpus.lib.search("cafe")
    assert record_ids(cafe) == [corpus.ids["cafe_title"], corpus.ids["receipt"]]


def test_more_matching_words_rank_higher(corpus: Corpus) -> None:
    # Both pages have "invoice" and "treasurer"; only the receipt also has "lemonade".
    results = corpus.lib.search("invoice OR lemonade")
    assert record_ids(results)[0] == corpus.ids["receipt"]


def test_results_are_sorted_by_score(corpus: Corpus) -> None:
    for query in ("invoice OR helmet OR zebrafish OR cafe", "quart* OR page", "the"):
        scores = [h.score for h in corpus.lib.search(query).results]
        assert scores == sorted(scores, reverse=True), query


# --------------------------------------------------------------------------- deletion


def test_removed_record_leaves_search_results(corpus: Corpus) -> None:
    lib = corpus.lib
    note = lib.add([], title="Mongoose sighting log").id
    assert found(corpus, "mongoose") == {corpus.ids["mongoose"], note}
    lib.remove(corpus.ids["mongoose"])
    results = lib.search("mongoose")
    assert record_ids(results) == [note]
    assert results.total == 1
    lib.remove(note)
    assert lib.search("mongoose").total == 0
    assert found(corpus, "ephemeral") == set()


def test_removed_record_stays_gone_after_reopen_and_reindex(corpus: Corpus) -> None:
    lib = corpus.lib
    record = lib.add([], title="Transient ocelot")
    assert found(corpus, "ocelot") == {record.id}
    lib.remove(record.id)
    with Library.open(lib.path) as other:
        assert other.search("ocelot").total == 0
        other.reindex()
        assert other.search("ocelot").total == 0
        assert other.search("invoice").total == 2


# --------------------------------------------------------------------------- counting


def test_total_is_exact_when_more_records_match_than_are_read(library: Library) -> None:
    for i in range(300):
        library.add([], title=f"Gannet {i}", body="gannet " * (i % 4))
    for limit in (1, 20, 100, 500):
        results = library.search("gannet", limit=limit)
        assert results.total == 300, limit
        assert len(results.results) == min(limit, 300)


def test_a_long_document_lists_its_best_pages_and_counts_the_rest(tmp_path: Path) -> None:
    from textlens.samples import write_pdf
    from textlens.search.searcher import PAGES_PER_ATTACHMENT

    pdf = tmp_path / "minutes.pdf"
    write_pdf(pdf, [f"Minutes page {i}: the quorum was present" for i in range(1, 15)])
    lib = Library.init(tmp_path / "lib")
    try:
        lib.add([pdf])
        lib.scan()
        [hit] = lib.search("quorum").results
        [attachment] = hit.attachments
        assert len(attachment.pages) == PAGES_PER_ATTACHMENT
        assert attachment.more_pages == 14 - PAGES_PER_ATTACHMENT
        listed = [p.page for p in attachment.pages]
        assert listed == sorted(listed)
        data = lib.search("quorum").to_dict()
        assert data["results"][0]["attachments"][0]["more_pages"] == 14 - PAGES_PER_ATTACHMENT
    finally:
        lib.close()
