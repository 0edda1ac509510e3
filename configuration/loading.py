"""Reads this stack's configuration from the Pulumi runtime and turns it into Settings."""

from __future__ import annotations

from configuration.model import ConfigError, Settings, parse_settings


def load_settings() -> Settings:
    """Read and validate this stack's configuration; a bad stack stops the program here."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env() or {})
    values = {key: runtime_config.get_config(key) for key in sorted(keys)}
    secret_keys = {key for key in keys if runtime_config.is_config_secret(key)}
    try:
        return parse_settings(values, secret_keys)
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
