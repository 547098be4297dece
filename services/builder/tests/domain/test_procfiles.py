import pytest

from deis_builder.domain.procfiles import parse_procfile
from deis_builder.errors import BuildFailed


def test_types_in_declared_order() -> None:
    text = "web: gunicorn app:app --bind 0.0.0.0:$PORT\nworker: celery -A tasks worker\n"
    assert parse_procfile(text) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "worker": "celery -A tasks worker",
    }
    assert list(parse_procfile(text)) == ["web", "worker"]


def test_comments_blank_lines_crlf_bom_and_spacing_are_ignored() -> None:
    text = (
        "\ufeff# the web\r\n\r\n   web:python app.py  \r\n  # worker: off\r\nclock-2 :  x # y\r\n"
    )
    assert parse_procfile(text) == {"web": "python app.py", "clock-2": "x # y"}


def test_empty_or_comment_only_declares_nothing() -> None:
    assert parse_procfile("") == {}
    assert parse_procfile("# nothing\n\n") == {}


def test_only_the_first_colon_separates() -> None:
    assert parse_procfile("web: echo a:b") == {"web": "echo a:b"}


def test_type_of_63_characters_is_accepted() -> None:
    assert parse_procfile(f"{'a' * 63}: run") == {"a" * 63: "run"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("web python app.py", "Procfile line 1: expected 'type: command'"),
        ("\n\nweb:", "Procfile line 3: process type 'web' has no command"),
        ("web: a\n#\nweb: b", "Procfile line 3: process type 'web' is already declared on line 1"),
    ],
)
def test_refusals_name_the_line(text: str, reason: str) -> None:
    with pytest.raises(BuildFailed) as caught:
        parse_procfile(text)
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    "name", ["Web", "web_1", "-web", "web-", "we--b", "w eb", "wéb", "", "a" * 64, "web.1"]
)
def test_bad_process_types_are_refused(name: str) -> None:
    with pytest.raises(BuildFailed, match=r"^Procfile line 2: process type .* must be lowercase"):
        parse_procfile(f"ok: run\n{name}: run")


def test_hostile_type_is_shown_escaped_and_short() -> None:
    with pytest.raises(BuildFailed) as caught:
        parse_procfile("\x1b[31m" + "x" * 500 + ": run")
    reason = str(caught.value)
    assert "\x1b" not in reason
    assert "\\x1b" in reason
    assert len(reason) < 200
    assert "\n" not in reason
