"""Root conftest: `pytester` drives the plugin in a subprocess for its own tests."""

pytest_plugins = ["pytester"]
