from textlens import Library


def test_crash_engine_fails_one_page_and_the_run_goes_on(library: Library, text_image) -> None:
    wide = text_image("wide.png", ["a wide page that crashes the engine"])
    tall = text_image("tall.png", ["tall", "page", "survives", "ok", "x", "y", "z"], font_size=40)
    library.add([wide])
    library.add([tall])
    library.set_setting("engine", "crash")
    library.set_setting("max_attempts", "1")
    report = library.scan()
    assert report.pages_done == 1
    status = library.status(failures=True)
    assert status["attachments"]["failed"] == 1
    assert status["attachments"]["done"] == 1
    reasons = [f["reason"] for f in status["failures"]]
    assert any("died" in r for r in reasons), reasons
