"""Pulumi.yaml's `config:` block and the README's configuration tables are what the model generates."""

import shutil

import yaml

from configuration import Settings, docs
from configuration.connection import EtcdDatastore, KubernetesDatastore
from configuration.section import section_models
from tools.evaluator.mock_engine import ROOT


def test_committed_pulumi_yaml_and_readme_match_the_model():
    stale = docs.outdated()
    assert not stale, f"{', '.join(p.name for p in stale)} differ from the configuration model; run `make docs`"


def test_a_hand_edit_or_a_new_setting_is_caught(tmp_path):
    for name in ("Pulumi.yaml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert docs.outdated(tmp_path) == {}
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("| `interval` | `15s` |", "| `interval` | `30s` |", 1))
    project = tmp_path / "Pulumi.yaml"
    project.write_text(project.read_text().replace("timeoutSeconds: 120", "timeoutSeconds: 60", 1))
    assert set(docs.outdated(tmp_path)) == {readme, project}
    docs.main_in(tmp_path, ["--write"])
    assert docs.outdated(tmp_path) == {}


def test_every_key_is_declared_with_its_type_and_every_field_documented():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    objects = Settings.sections()
    assert list(declared) == [f"calico-monitoring:{key}" for key in Settings.listed_keys_in_order()]
    for key in Settings.listed_keys_in_order():
        declaration = declared[f"calico-monitoring:{key}"]
        assert declaration["type"] == ("object" if key in objects else "string"), key
        assert declaration["description"], key
    models = {model for found in objects.values() for model in found}
    assert {KubernetesDatastore, EtcdDatastore} <= models
    for model in models:
        for alias in model.config_fields():
            meta = model.meta(alias)
            assert meta["accepts"], f"{model.__name__}.{alias}: no accepts text for its messages"
            assert meta["meaning"] or alias == "type", f"{model.__name__}.{alias}: no meaning for the README"
            assert f"`{alias}`" in (ROOT / "README.md").read_text(), alias


def test_section_models_reads_the_annotations():
    assert section_models(Settings.model_fields["datastore"].annotation) == (KubernetesDatastore, EtcdDatastore)
    assert section_models(Settings.model_fields["install"].annotation) == ()
