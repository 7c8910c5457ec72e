"""The configuration in force for a repository, read-only, each setting with its source:
the repository's own file (`.github/veilleur.yml`, GitLab's `.gitlab/veilleur.yml`), the
organisation's (`{org}/.github`, a GitLab group's `gitlab-profile`), or the default.

Veilleur stores the merged config of each repository and the files it was merged from
(`configs` table). A setting's source is told by comparison: equal to the default → default;
else equal to the organisation's merged config (when recorded) → organisation; else the
repository. When the organisation's config is not recorded, the files read decide.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config.schema import VeilleurConfig
from bot.forge.names import CONFIG_PATH, org_config_repo, org_file_name, repo_file_name
from bot.storage.models import ConfigRecord

SOURCES = ("repository", "organisation", "default")


@dataclass(frozen=True)
class Setting:
    path: str  # e.g. "sla.first_response_days"
    value: str  # as JSON
    source: str  # repository | organisation | default


@dataclass(frozen=True)
class ConfigInForce:
    config: VeilleurConfig
    settings: list[Setting]
    files: tuple[str, ...]  # the files it was merged from
    recorded: bool  # False: nothing stored yet, the defaults are shown


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _read(session: Session, key: str) -> tuple[VeilleurConfig | None, tuple[str, ...]]:
    record = session.get(ConfigRecord, key.lower())
    if record is None or not record.valid_json:
        return None, ()
    try:
        config = VeilleurConfig.model_validate_json(record.valid_json)
        last = json.loads(record.errors_json or "{}")
    except ValueError:
        return None, ()
    files = tuple(last.get("sources") or ()) if isinstance(last, dict) else ()
    return config, files


def _files_read(files: tuple[str, ...], org: str, repo: str) -> tuple[bool, bool]:
    """Whether the repository's own file and the organisation's were read, by their names in
    the record. Records stored before GitLab's files had their own names (repository file
    `.github/veilleur.yml`, org file `…/.github/.github/veilleur.yml`) count until read again."""
    read = {f.lower() for f in files}  # names of owners as the forge spelt them then
    has_repo = repo_file_name(repo) in read or CONFIG_PATH in read
    has_org = org_file_name(org).lower() in read or any(
        f.endswith(f"/.github/{CONFIG_PATH}") for f in read
    )
    return has_repo, has_org


@functools.cache
def _default_leaves() -> dict[str, Any]:
    return _leaves(VeilleurConfig().model_dump(mode="json", by_alias=True))


def config_in_force(engine: Engine, org: str, repo: str) -> ConfigInForce:
    with Session(engine) as s:
        config, files = _read(s, repo)
        org_config, _ = _read(s, org_config_repo(org))
    recorded = config is not None
    config = config or org_config or VeilleurConfig()
    default = _default_leaves()
    org_leaves = _leaves(org_config.model_dump(mode="json", by_alias=True)) if org_config else None
    has_repo_file, has_org_file = _files_read(files, org, repo)
    settings = []
    for path, value in _leaves(config.model_dump(mode="json", by_alias=True)).items():
        if path in default and default[path] == value:
            source = "default"
        elif org_leaves is not None:
            source = "organisation" if org_leaves.get(path) == value else "repository"
        elif has_org_file and not has_repo_file:
            source = "organisation"
        else:
            source = "repository" if recorded else "organisation"
        settings.append(Setting(path, json.dumps(value, ensure_ascii=False), source))
    return ConfigInForce(config, settings, files, recorded)
