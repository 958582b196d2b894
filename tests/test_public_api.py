"""The public API: everything in textlens.__all__ exists, and every public name is listed."""

from __future__ import annotations

import textlens


def test_all_names_exist() -> None:
    for name in textlens.__all__:
        assert hasattr(textlens, name), name


def test_every_public_name_is_in_all() -> None:
    public = {
        name for name, value in vars(textlens).items()
        if not name.startswith("_") and not getattr(value, "__module__", "").startswith("builtins")
        and not type(value).__name__ == "module" and name != "annotations"
    }
    assert public <= set(textlens.__all__), public - set(textlens.__all__)


def test_errors_share_one_root() -> None:
    for name in textlens.__all__:
        value = getattr(textlens, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, textlens.TextlensError), name
