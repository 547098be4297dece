"""Rules of automatic TLS: certificate names, wildcards, renewal time, backoff."""

from datetime import UTC, datetime, timedelta

from deis_controller.domain import certificates, issuance


def test_certificate_names_follow_the_name_rules():
    assert issuance.certificate_name("Shop.Example.com") == "auto-shop-example-com"
    long = issuance.certificate_name("a" * 60 + ".example.com")
    assert len(long) <= 63
    assert certificates.validate_cert_name(long) == long
    numbered = issuance.numbered(long, number=2)
    assert numbered.endswith("-2") and len(numbered) <= 63
    assert certificates.validate_cert_name(numbered) == numbered


def test_wildcards_are_told_apart():
    assert issuance.is_wildcard("*.example.com")
    assert not issuance.is_wildcard("www.example.com")


def test_renewal_is_due_with_a_third_of_the_lifetime_left():
    starts = datetime(2026, 1, 1, tzinfo=UTC)
    expires = starts + timedelta(days=90)
    assert not issuance.needs_renewal(starts=starts, expires=expires, now=starts)
    assert not issuance.needs_renewal(
        starts=starts, expires=expires, now=starts + timedelta(days=59)
    )
    assert issuance.needs_renewal(starts=starts, expires=expires, now=starts + timedelta(days=60))
    assert issuance.needs_renewal(starts=starts, expires=expires, now=expires)


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after():
    waits = [
        issuance.backoff(attempts=n, minimum=60, maximum=3600).total_seconds() for n in range(1, 9)
    ]
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert issuance.backoff(attempts=1, minimum=60, maximum=3600, retry_after=7200) == timedelta(
        hours=2
    )
    assert issuance.backoff(attempts=3, minimum=60, maximum=3600, retry_after=10) == timedelta(
        minutes=4
    )
