import pytest
from pydantic import ValidationError

from deis_shared.settings import ServiceSettings


def test_fields_come_from_deis_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEIS_NATS_URL", "nats://nats.example:4222")
    monkeypatch.setenv("DEIS_DB_POOL_MAX_SIZE", "3")
    monkeypatch.setenv("NATS_URL", "nats://ignored:1")
    settings = ServiceSettings()
    assert settings.nats_url == "nats://nats.example:4222"
    assert settings.db_pool_max_size == 3


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEIS_ENVIRONMENT", "production")
    monkeypatch.setenv("DEIS_S3_SECRET_ACCESS_KEY", "changeme")
    with pytest.raises(ValidationError, match="DEIS_S3_SECRET_ACCESS_KEY holds a placeholder"):
        ServiceSettings()


def test_development_accepts_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEIS_S3_SECRET_ACCESS_KEY", "changeme")
    assert ServiceSettings().s3_secret_access_key is not None


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEIS_ENVIRONMENT", "production")
    monkeypatch.setenv("DEIS_S3_SECRET_ACCESS_KEY", "k3y-9f8e7d6c5b4a")
    assert ServiceSettings().environment == "production"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEIS_SHUTDOWN_TIMEOUT", "-1")
    with pytest.raises(ValidationError, match="shutdown_timeout"):
        ServiceSettings()


def test_every_field_is_documented() -> None:
    undocumented = [
        name for name, field in ServiceSettings.model_fields.items() if not field.description
    ]
    assert undocumented == []
