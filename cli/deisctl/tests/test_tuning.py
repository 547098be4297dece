"""A service's own settings under `deisctl up`: `--set`, `<data>/config/<service>.env`, refusals."""

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from deisctl import tuning
from deisctl.errors import CtlError
from deisctl.layout import Layout
from deisctl.main import cli
from deisctl.platform import Options, make_plan

SERVICES = ["controller", "builder", "scheduler", "logger", "router"]

EXTERNAL = {
    "database_url": "postgresql://deis@db.example:5432/deis",
    "nats_url": "nats://nats.example:4222",
}


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **extra}


def plan_with(tmp_path: Path, sets: list[str], **extra: str):
    layout = Layout(tmp_path / "data")
    layout.create()
    env = environ(tmp_path, **extra)
    chosen = tuning.settings(layout, sets, environ=env)
    options = Options(data_dir=layout.root, service_settings=chosen, **EXTERNAL)  # type: ignore[arg-type]
    plan = make_plan(options, layout, environ=env)
    return {component.name: component.env for component in plan.components}


def write_config(tmp_path: Path, service: str, text: str) -> Path:
    path = tuning.config_file(Layout(tmp_path / "data"), service)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_set_reaches_its_service_and_no_other(open_dir):
    tmp_path = open_dir
    envs = plan_with(
        tmp_path,
        ["controller.rollout_wait=20", "scheduler.deploy_timeout=45"],
        DEIS_BUILD_TIMEOUT="600",
        DEIS_S3_REGION="eu-west-1",
        DEIS_ROLLOUT_WAIT="5",  # deisctl's own environment: not handed on, as before
    )
    assert envs["controller"]["DEIS_ROLLOUT_WAIT"] == "20"
    assert envs["scheduler"]["DEIS_DEPLOY_TIMEOUT"] == "45"
    for name in ("builder", "scheduler", "logger", "router"):
        assert "DEIS_ROLLOUT_WAIT" not in envs[name]
    for name in ("controller", "builder", "logger", "router"):
        assert "DEIS_DEPLOY_TIMEOUT" not in envs[name]
    # What deisctl passed on before still reaches every service.
    for name in SERVICES:
        assert envs[name]["DEIS_BUILD_TIMEOUT"] == "600"
        assert envs[name]["DEIS_S3_REGION"] == "eu-west-1"


def test_the_config_file_holds_settings_for_every_run_and_a_set_wins_over_it(open_dir):
    tmp_path = open_dir
    write_config(
        tmp_path,
        "controller",
        "# the operator's\nDEIS_ROLLOUT_WAIT=30\nDEIS_REGISTRATION_MODE=admin_only\n",
    )
    write_config(tmp_path, "builder", "export DEIS_BUILD_TIMEOUT='300'\n")
    layout = Layout(tmp_path / "data")
    # Every `up` reads the files again: what they hold lasts across restarts.
    for _ in range(2):
        assert tuning.settings(layout, [], environ=environ(tmp_path)) == {
            "controller": {"DEIS_ROLLOUT_WAIT": "30", "DEIS_REGISTRATION_MODE": "admin_only"},
            "builder": {"DEIS_BUILD_TIMEOUT": "300"},
        }
    envs = plan_with(tmp_path, ["controller.rollout_wait=20"])
    assert envs["controller"]["DEIS_ROLLOUT_WAIT"] == "20"
    assert envs["controller"]["DEIS_REGISTRATION_MODE"] == "admin_only"
    assert envs["builder"]["DEIS_BUILD_TIMEOUT"] == "300"


def test_deisctl_wiring_wins_over_any_setting(open_dir):
    tmp_path = open_dir
    layout = Layout(tmp_path / "data")
    layout.create()
    options = Options(
        data_dir=layout.root,
        api_port=18000,
        service_settings={"controller": {"DEIS_API_PORT": "1", "DEIS_DATA_DIR": "/elsewhere"}},
        **EXTERNAL,  # type: ignore[arg-type]
    )
    plan = make_plan(options, layout, environ=environ(tmp_path))
    controller = next(c for c in plan.components if c.name == "controller").env
    assert controller["DEIS_API_PORT"] == "18000"
    assert controller["DEIS_DATA_DIR"] == str(layout.service("controller"))


@pytest.mark.parametrize(
    ("setting", "option"),
    [
        ("controller.api_port=9000", "--api-port"),
        ("controller.database_url=postgresql://x/y", "--database-url"),
        ("router.nats_url=nats://x:4222", "--nats-url"),
        ("builder.ssh_port=22", "--ssh-port"),
        ("router.https_port=443", "--https-port"),
        ("logger.data_dir=/tmp/x", "--data-dir"),
        ("scheduler.health_port=1", "health port"),
        ("controller.object_store=s3", "--s3-endpoint-url"),
        ("controller.platform_domain=example.com", "--platform-domain"),
    ],
)
def test_deisctl_wiring_cannot_be_set_and_the_refusal_names_its_option(tmp_path, setting, option):
    name = "DEIS_" + setting.split(".")[1].split("=")[0].upper()
    with pytest.raises(CtlError, match="own wiring") as refused:
        tuning.settings(Layout(tmp_path), [setting], environ=environ(tmp_path))
    assert name in str(refused.value) and option in str(refused.value)


def test_wiring_in_a_config_file_is_refused_too(tmp_path):
    path = write_config(tmp_path, "controller", "DEIS_API_PORT=9000\n")
    with pytest.raises(CtlError, match="DEIS_API_PORT is deisctl's own wiring") as refused:
        tuning.settings(Layout(tmp_path / "data"), [], environ=environ(tmp_path))
    assert str(path) in str(refused.value) and "--api-port" in str(refused.value)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("ctrl.rollout_wait=20", "no service named 'ctrl'; there are: controller, builder"),
        ("controller.rollout_wayt=20", "the controller has no setting 'rollout_wayt'"),
        ("router.rollout_wait=20", "the router has no setting 'rollout_wait'"),
        ("controller.rollout_wait=soon", "the controller refuses it: Input should be a valid"),
        ("controller.registration_mode=maybe", "the controller refuses it"),
        ("scheduler.deploy_timeout=0", "the scheduler refuses it: Input should be greater"),
        ("controller.rollout_wait", "expected <service>.<setting>=<value>"),
        ("rollout_wait=20", "expected <service>.<setting>=<value>"),
    ],
)
def test_unknown_names_and_refused_values_are_told_before_anything_starts(
    tmp_path, setting, message
):
    with pytest.raises(CtlError, match=re.escape(message)) as refused:
        tuning.settings(Layout(tmp_path), [setting], environ=environ(tmp_path))
    assert str(refused.value).startswith(f"--set {setting}: ")


def test_a_config_file_line_that_is_no_setting_is_refused(tmp_path):
    write_config(tmp_path, "scheduler", "DEPLOY_TIMEOUT=30\n")
    with pytest.raises(CtlError, match="DEPLOY_TIMEOUT is not a setting"):
        tuning.settings(Layout(tmp_path / "data"), [], environ=environ(tmp_path))
    write_config(tmp_path, "scheduler", "DEIS_DEPLOY_TIMEOUT=-3\n")
    with pytest.raises(
        CtlError, match=r"scheduler\.env: DEIS_DEPLOY_TIMEOUT: the scheduler refuses"
    ):
        tuning.settings(Layout(tmp_path / "data"), [], environ=environ(tmp_path))


def test_a_config_file_of_no_service_is_refused(tmp_path):
    write_config(tmp_path, "controler", "DEIS_ROLLOUT_WAIT=20\n")
    with pytest.raises(CtlError, match=r"controler\.env names no service; there are: controller"):
        tuning.settings(Layout(tmp_path / "data"), [], environ=environ(tmp_path))


def test_up_with_a_refused_setting_fails_before_it_touches_the_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        cli, ["up", "-d", "--data-dir", str(data_dir), "--set", "controller.api_port=9000"]
    )
    assert isinstance(result.exception, CtlError), result.output
    assert "--api-port" in str(result.exception)
    assert not data_dir.exists()


def test_the_acme_options_reach_the_controller_and_a_set_wins(open_dir):
    tmp_path = open_dir
    bundle = tmp_path / "ca.pem"
    named = tuning.named(acme_directory="https://acme.example/dir", acme_ca_bundle=bundle)
    envs = plan_with(tmp_path, named)
    assert envs["controller"]["DEIS_ACME_DIRECTORY"] == "https://acme.example/dir"
    assert envs["controller"]["DEIS_ACME_CA_BUNDLE"] == str(bundle.absolute())
    assert "DEIS_ACME_DIRECTORY" not in envs["router"]
    envs = plan_with(tmp_path, [*named, "controller.acme_directory=https://other.example/dir"])
    assert envs["controller"]["DEIS_ACME_DIRECTORY"] == "https://other.example/dir"
    assert tuning.named(acme_directory=None, acme_ca_bundle=None) == []


def test_up_refuses_an_acme_ca_bundle_that_is_not_there(tmp_path):
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        cli,
        ["up", "-d", "--data-dir", str(data_dir), "--acme-ca-bundle", str(tmp_path / "none.pem")],
    )
    assert result.exit_code == 2, result.output
    assert "--acme-ca-bundle" in result.output
    assert not data_dir.exists()
