"""Which config applies to each repository of an org when computing its digest."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.config.schema import VeilleurConfig
from bot.digest.metrics import Affiliation, Rules
from bot.forge.names import org_config_repo, owner_of
from bot.storage.models import ConfigRecord

ConfigSource = Mapping[str, VeilleurConfig] | VeilleurConfig | None


class OrgConfigs:
    """Per-repository configs (given, or the last valid ones stored in the record)."""

    def __init__(self, org: str, configs: ConfigSource, stored: Mapping[str, str] | None = None):
        self.org = org
        by_repo: dict[str, VeilleurConfig] = {}
        if isinstance(configs, VeilleurConfig):
            self.default = configs
        else:
            by_repo.update(_parsed(stored or {}))
            by_repo.update({k.lower(): v for k, v in (configs or {}).items()})
            org_file = by_repo.get(org_config_repo(org).lower())
            self.default = org_file or (by_repo[min(by_repo)] if by_repo else VeilleurConfig())
        self.by_repo = by_repo
        self._rules: dict[str, Rules] = {}
        self._repo_rules: dict[str, Rules] = {}

    def add_stored(self, stored: Mapping[str, str]) -> None:
        """The stored configs of more repositories (an OSPO's members, bot/digest/ospo.py);
        the default stays the org's, and configs already known are kept."""
        for repo, config in _parsed(stored).items():
            self.by_repo.setdefault(repo, config)

    def config(self, repo: str) -> VeilleurConfig:
        return self.by_repo.get(repo.lower(), self.default)

    def rules(self, repo: str) -> Rules:
        """One `Rules` (and calendar tables) per distinct calendar and SLA section."""
        found = self._repo_rules.get(repo)
        if found is not None:
            return found
        cfg = self.config(repo)
        key = cfg.calendar.model_dump_json() + cfg.sla.model_dump_json()
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = Rules.from_config(cfg)
        self._repo_rules[repo] = rules
        return rules

    def affiliation(self) -> Affiliation:
        partners: dict[str, Any] = {}
        for cfg in [self.default, *self.by_repo.values()]:
            for p in cfg.partners:
                partners.setdefault(p.name, p)
        return Affiliation(tuple(partners.values()), self.default.labels.partner_prefix)


def _parsed(stored: Mapping[str, str]) -> dict[str, VeilleurConfig]:
    """Repository (lower case) -> its stored config; each distinct text is parsed once, and
    a text the schema no longer accepts is left out."""
    texts: dict[str, VeilleurConfig | None] = {}
    out: dict[str, VeilleurConfig] = {}
    for repo, text in stored.items():
        if text not in texts:
            try:
                texts[text] = VeilleurConfig.model_validate_json(text)
            except ValueError:
                texts[text] = None
        config = texts[text]
        if config is not None:
            out[repo.lower()] = config
    return out


def stored_configs(engine: Engine, org: str) -> dict[str, str]:
    """The last valid config of each repository of `org` (`configs` table)."""
    c = ConfigRecord.__table__.c  # type: ignore[attr-defined]
    prefix = org.lower() + "/"
    q = select(c.repo_full_name, c.valid_json).where(
        func.substr(c.repo_full_name, 1, len(prefix)) == prefix, c.valid_json.is_not(None)
    )
    with engine.connect() as conn:
        return {repo: text for repo, text in conn.execute(q)}


def _owner_readings(engine: Engine, owner: str, *order: Any) -> list[tuple[str, str, str | None]]:
    """(repository, valid configuration, errors) of each stored reading of `owner`'s own
    repositories (not a GitLab subgroup's), in `order`."""
    c = ConfigRecord.__table__.c  # type: ignore[attr-defined]
    prefix = owner.lower() + "/"
    q = (
        select(c.repo_full_name, c.valid_json, c.errors_json)
        .where(func.substr(c.repo_full_name, 1, len(prefix)) == prefix, c.valid_json.is_not(None))
        .order_by(*order, func.lower(c.repo_full_name))
    )
    with engine.connect() as conn:
        rows = [(str(r), str(t), e) for r, t, e in conn.execute(q)]
    return [row for row in rows if owner_of(row[0]).lower() == owner.lower()]


def _first_valid(texts: Iterable[str]) -> VeilleurConfig | None:
    for text in texts:
        try:
            return VeilleurConfig.model_validate_json(text)
        except ValueError:
            continue
    return None


def owner_config(engine: Engine, owner: str) -> VeilleurConfig:
    """`owner`'s own configuration as the record holds it, without reading every repository's
    (a page asks at every request): its own file's (`.github`, `gitlab-profile`), else the
    first valid one stored for one of its repositories by name (each is merged over the
    owner's file, whose `ospo` lists no repository file may set), else the defaults."""
    c = ConfigRecord.__table__.c  # type: ignore[attr-defined]
    own_file = func.lower(c.repo_full_name) == org_config_repo(owner).lower()
    rows = _owner_readings(engine, owner, own_file.desc())
    return _first_valid(text for _, text, _ in rows) or VeilleurConfig()


def owner_shared_with(engine: Engine, owner: str) -> tuple[str, ...]:
    """`ospo.shared_with` of `owner`'s own file, as most recently read. Only that file may set
    it (in a repository's own file it is an error), so each of the owner's repositories'
    stored configurations carries it as of that repository's last reading: the latest clean
    one (read without errors: a reading with errors keeps an older configuration) is the
    freshest word, whichever repository it was read for, so a consent given or withdrawn
    shows with the next reading of any of them, even when the org file's own record (which
    sweeps do not refresh) is older. No clean reading: `owner_config`'s."""
    c = ConfigRecord.__table__.c  # type: ignore[attr-defined]
    rows = _owner_readings(engine, owner, c.fetched_at.desc())
    latest = _first_valid(text for _, text, errors in rows if _clean(errors))
    return tuple((latest or owner_config(engine, owner)).ospo.shared_with)


def _clean(errors_json: str | None) -> bool:
    """Whether a stored reading had no errors (`ConfigRecord.errors_json`)."""
    try:
        last = json.loads(errors_json or "{}")
    except ValueError:
        return False
    found = last.get("errors") if isinstance(last, dict) else last
    return not found
