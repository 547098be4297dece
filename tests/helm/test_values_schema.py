"""values.schema.json refuses bad values with a message that names the value and what is wrong,
before anything renders; good values of every scenario pass."""

import helm_python as helm
import pytest
from helm_python.errors import HelmError


def refusal(chart, values) -> str:
    with helm.Chart.load(chart.path) as loaded:
        with pytest.raises(HelmError) as caught:
            loaded.validate_schema(loaded.merge_values(values))
        message = str(caught.value)
        # Rendering checks the schema as well: nothing renders from bad values.
        with pytest.raises(HelmError):
            loaded.render(values, name="deis", namespace="deis", is_install=True)
    return message


def test_every_scenario_is_valid(chart, scenario):
    with helm.Chart.load(chart.path) as loaded:
        loaded.validate_schema(loaded.merge_values(chart.scenarios[scenario]))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"router": {"replicas": "two"}}, "replicas"),
        ({"router": {"kind": "StatefulSet"}}, "kind"),
        ({"nats": {"replicas": 2}}, "replicas"),
        ({"platformDomain": "Not A Domain"}, "platformDomain"),
        ({"controller": {"registrationMode": "open"}}, "registrationMode"),
        ({"scheduler": {"appUser": 0}}, "appUser"),
        ({"builder": {"persistence": {"size": "lots"}}}, "size"),
        ({"images": {"registry": "registry.example.com"}}, "registry"),
        ({"routr": {"replicas": 2}}, "routr"),
        ({"controller": {"ingress": {"enabled": True}}}, "host"),
        ({"controller": {"acme": {"directory": "http://acme.example.com/dir"}}}, "directory"),
        ({"controller": {"acme": {"email": "not an address"}}}, "email"),
    ],
    ids=[
        "wrong-type",
        "unknown-kind",
        "even-nats-cluster",
        "bad-domain",
        "unknown-mode",
        "root-apps",
        "bad-size",
        "registry-without-slash",
        "misspelt-key",
        "ingress-without-host",
        "acme-over-http",
        "bad-acme-email",
    ],
)
def test_bad_values_are_refused_naming_the_value(chart, values, named):
    assert named in refusal(chart, values)


def test_turning_the_bundled_database_off_needs_an_external_one(chart):
    message = refusal(chart, {"postgres": {"enabled": False}})
    assert "externalDatabase" in message or "url" in message
    message = refusal(chart, {"postgres": {"enabled": False}, "externalDatabase": {"url": ""}})
    assert "url" in message
    assert "postgres" in refusal(
        chart, {"postgres": {"enabled": False}, "externalDatabase": {"url": "mysql://db/deis"}}
    )
    with helm.Chart.load(chart.path) as loaded:
        for external in ({"url": "postgresql://u:p@db:5432/deis"}, {"existingSecret": "db-urls"}):
            loaded.validate_schema(
                loaded.merge_values({"postgres": {"enabled": False}, "externalDatabase": external})
            )


def test_turning_the_bundled_object_store_off_needs_credentials_for_the_external_one(chart):
    assert "existingSecret" in refusal(chart, {"s3": {"enabled": False}})
