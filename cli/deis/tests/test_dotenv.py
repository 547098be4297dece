"""`.env` reading and writing."""

import pytest

from deis_cli import dotenv, errors


def test_parse_what_people_write():
    text = (
        "# comment\n"
        "\n"
        "export A=1\n"
        "B = two words # trailing\n"
        "C='single $x \\n'\n"
        'D="double\\n\\"q\\" \\\\"\n'
        "E=a#b\n"
        'F="multi\n'
        'line"\n'
        "G=\n"
    )
    assert dotenv.parse(text) == {
        "A": "1",
        "B": "two words",
        "C": "single $x \\n",
        "D": 'double\n"q" \\',
        "E": "a#b",
        "F": "multi\nline",
        "G": "",
    }


@pytest.mark.parametrize("text", ["not an assignment\n", "1A=x\n", 'A="open\n'])
def test_parse_refuses(text):
    with pytest.raises(errors.InvalidInput):
        dotenv.parse(text)


def test_render_round_trips():
    values = {
        "PLAIN": "abc",
        "SPACE": "a b",
        "QUOTES": "say \"hi\" 'x'",
        "NEWLINE": "a\nb\r\n",
        "HASH": "#x",
        "BACKSLASH": "a\\b",
        "EQUALS": "a=b",
        "EMPTY": "",
    }
    rendered = dotenv.render(values)
    assert rendered.startswith("BACKSLASH=")
    assert dotenv.parse(rendered) == values
