"""PEM splitting: blocks and whitespace only, anything else refused with `PemError`."""

import base64

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from deis_controller.domain import pem

BODY = base64.b64encode(bytes(range(48))).decode()
CERT = f"-----BEGIN CERTIFICATE-----\n{BODY}\n-----END CERTIFICATE-----"
KEY = f"-----BEGIN PRIVATE KEY-----\n{BODY}\n-----END PRIVATE KEY-----"


def test_one_block_with_whitespace_around_it():
    [block] = pem.blocks(f"\r\n  \t\n{CERT}  \r\n\n")

    assert block.label == "CERTIFICATE"
    assert block.text == CERT
    assert block.der == bytes(range(48))


def test_several_blocks_in_order():
    found = pem.blocks(f"{CERT}\n\n{KEY}\n{CERT}")

    assert [block.label for block in found] == ["CERTIFICATE", "PRIVATE KEY", "CERTIFICATE"]


def test_base64_wrapped_over_lines():
    wrapped = "\r\n".join(BODY[i : i + 16] for i in range(0, len(BODY), 16))

    [block] = pem.blocks(f"-----BEGIN X509 CRL-----\r\n{wrapped}\r\n-----END X509 CRL-----\r\n")

    assert (block.label, block.der) == ("X509 CRL", bytes(range(48)))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no PEM block found"),
        (" \n\t ", "no PEM block found"),
        ("not a certificate", "no PEM block found"),
        (f"junk\n{CERT}", "unexpected text before the first PEM block"),
        (f"{CERT}\njunk\n{CERT}", "unexpected text between PEM blocks"),
        (f"{CERT}\n" + "A" * 100_000, "unexpected text after the last PEM block"),
        (f"{CERT}\x00", "unexpected text after the last PEM block"),
        (f"{CERT}\n-----END CERTIFICATE-----", "unexpected text after the last PEM block"),
        (f"{CERT}\u00a0", "not ASCII"),
        (f"{CERT}é", "not ASCII"),
        ("-----BEGIN CERTIFICATE", "a BEGIN line is malformed"),
        ("-----BEGIN -----\nAAAA\n----END -----", "a BEGIN line is malformed"),
        ("-----BEGIN cert-----\nAAAA\n-----END cert-----", "a BEGIN line is malformed"),
        (f"-----BEGIN {'A' * 65}-----\nAAAA\n-----END {'A' * 65}-----", "malformed"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n", "the CERTIFICATE block has no END line"),
        (f"{CERT[:-5]}", "the CERTIFICATE block has no END line"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----",
            "the CERTIFICATE block has no END line",
        ),
        (f"{CERT}{CERT}", "a BEGIN line does not start a line"),
        (f"{CERT} \t{CERT}", "a BEGIN line does not start a line"),
        (f"  {CERT}", "a BEGIN line does not start a line"),
        (f"-----BEGIN CERTIFICATE-----{BODY}\n-----END CERTIFICATE-----", "not lines of their own"),
        (f"-----BEGIN CERTIFICATE-----\n{BODY}-----END CERTIFICATE-----", "not lines of their own"),
        ("-----BEGIN CERTIFICATE-----\nAA\x00A\n-----END CERTIFICATE-----", "not base64"),
        (f"-----BEGIN A-----\n{CERT}\n-----END A-----", "not base64"),
        ("-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----", "not valid base64"),
        (
            "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----",
            "the CERTIFICATE block is empty",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
            f"{BODY}\n-----END RSA PRIVATE KEY-----",
            "encrypted",
        ),
    ],
)
def test_refused(text, reason):
    with pytest.raises(pem.PemError) as caught:
        pem.blocks(text)

    assert reason in str(caught.value)


def test_a_block_longer_than_its_label_allows_is_found_at_the_limit():
    label = "A" * 64

    [block] = pem.blocks(f"-----BEGIN {label}-----\n{BODY}\n-----END {label}-----")

    assert block.label == label


# Fragments that make near-PEM text: markers, labels, base64, whitespace and hostile characters.
FRAGMENTS = st.sampled_from(
    [
        "-----BEGIN ",
        "-----END ",
        "-----",
        "CERTIFICATE",
        "PRIVATE KEY",
        " ",
        "\n",
        "\r\n",
        "\t",
        BODY[:8],
        "AAAA",
        "=",
        "==",
        "\x00",
        "é",
        "\ud800",
        "Proc-Type: 4,ENCRYPTED\n",
        CERT,
        KEY,
    ]
)
NEAR_PEM = st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join)


@settings(max_examples=400, deadline=None, database=None)
@given(text=st.one_of(NEAR_PEM, st.text(max_size=200)))
def test_only_pem_errors_are_raised(text):
    try:
        found = pem.blocks(text)
    except pem.PemError:
        return
    rest = text
    for block in found:
        assert block.der
        before, _, rest = rest.partition(block.text)
        assert before.strip(" \t\r\n") == ""
    assert rest.strip(" \t\r\n") == ""


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    blocks=st.lists(st.sampled_from([CERT, KEY]), min_size=1, max_size=5),
    gaps=st.lists(st.text(alphabet=" \t\r\n", max_size=4), min_size=6, max_size=6),
)
def test_blocks_on_lines_of_their_own_are_always_accepted(blocks, gaps):
    """Any whitespace may surround blocks, as long as each BEGIN line starts a line."""
    text = (gaps[0] + "\n" if gaps[0] else "") + "".join(
        f"{block}{gap}\n" for block, gap in zip(blocks, gaps[1:], strict=False)
    )

    found = pem.blocks(text)

    assert [block.text for block in found] == blocks
