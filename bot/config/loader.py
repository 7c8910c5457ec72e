"""Repository configuration: `.github/veilleur.yml`, merged over the org's, merged over defaults.

Maintainers edit YAML by hand, so every mistake is reported on the line it is on: the file is
read with ruamel.yaml's round-trip loader (which keeps line/column of each key), and pydantic's
error paths are mapped back to the file that supplied the faulty value.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from sqlalchemy import func, update
from sqlmodel import Session

from bot.config.bounds import MAX_DEPTH, bound_errors, size_error, too_deep_line
from bot.config.errors import ConfigError, Layer, located_errors
from bot.config.schema import VeilleurConfig
from bot.forge.names import (
    CONFIG_PATH,
    GITHUB_ORG_REPO,
    GITLAB_ORG_REPO,
    RepoName,
    org_config_repo,
    org_file_name,
    owner_of,
    repo_file_name,
)
from bot.resources import config_dir
from bot.storage.models import ConfigRecord

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.clock import Clock
    from bot.forge import Forge

__all__ = [
    "CONFIG_PATH",
    "ConfigError",
    "ConfigLoader",
    "ResolvedConfig",
    "VeilleurConfig",
    "check_file",
    "deep_merge",
    "load_default",
    "org_only_errors",
    "parse_config_text",
    "validate_layers",
]

log = logging.getLogger(__name__)

# Where an organisation's (group's) files live: GitHub's `.github`, GitLab's `gitlab-profile`
# (whose files the GitLab client and its push events name at their canonical places).
ORG_CONFIG_REPOS = (GITHUB_ORG_REPO, GITLAB_ORG_REPO)
DEFAULT_FILENAME = "config/default.yml"


# -- reading ------------------------------------------------------------------------------------


def parse_config_text(text: str, filename: str) -> tuple[dict[str, Any], list[ConfigError]]:
    """The raw mapping (a ruamel CommentedMap keeping line info) and any YAML syntax errors.

    A file over the bounds of `bot.config.bounds` (size, expansion, nesting) is an error too,
    found before anything merges it."""
    too_big = size_error(text, filename)
    if too_big is not None:
        return {}, [too_big]
    deep = too_deep_line(text)
    if deep is not None:
        message = f"nested more than {MAX_DEPTH} levels deep"
        return {}, [ConfigError(filename, deep, 1, "", message)]
    yaml = YAML(typ="rt", pure=True)
    try:
        data = yaml.load(io.StringIO(text))
    except RecursionError:
        line = too_deep_line(text)
        message = f"nested more than {MAX_DEPTH} levels deep"
        return {}, [ConfigError(filename, line, 1 if line else None, "", message)]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        message = exc.problem or "invalid YAML"
        if exc.context:
            message += f" ({exc.context})"
        return {}, [ConfigError(filename, line, col, "", f"YAML syntax error: {message}")]
    except YAMLError as exc:
        return {}, [ConfigError(filename, None, None, "", f"YAML syntax error: {exc}")]
    if data is None:
        return CommentedMap(), []
    if not isinstance(data, dict):
        return {}, [ConfigError(filename, 1, 1, "", "the file must be a mapping of keys")]
    bounds = bound_errors(data, filename)
    return ({}, bounds) if bounds else (data, [])


def load_default() -> dict[str, Any]:
    """The packaged `config/default.yml`; a broken default is a packaging bug, hence raises."""
    text = (config_dir() / "default.yml").read_text(encoding="utf-8")
    data, errors = parse_config_text(text, DEFAULT_FILENAME)
    if errors:
        raise RuntimeError("; ".join(map(str, errors)))
    return data


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; lists and scalars of `override` replace those of `base`."""
    if isinstance(base, dict) and override is None:
        return _plain(base)  # `welcome:` with every sub-key commented out means "no change"
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return _plain(override)
    merged = {k: _plain(v) for k, v in base.items()}
    for key, value in override.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else _plain(value)
    return merged


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# -- validating ---------------------------------------------------------------------------------


def validate_layers(
    default: dict[str, Any], org: Layer | None, repo: Layer | None
) -> tuple[VeilleurConfig | None, list[ConfigError]]:
    """Merge default <- org <- repo and validate; errors point at the file and line at fault."""
    merged: Any = default
    for layer in (org, repo):
        if layer is not None:
            merged = deep_merge(merged, layer[0])
    try:
        return VeilleurConfig.model_validate(merged), []
    except ValidationError as exc:
        layers = [la for la in (repo, org, (default, DEFAULT_FILENAME)) if la is not None]
        errors = located_errors(exc, layers)
        if len(layers) > 1:  # a default clashing with a user's value: point at the user's file
            top = layers[0][1]
            errors = [
                replace(e, file=top, line=None, column=None, message=f"{e.message} (default value)")
                if e.file == DEFAULT_FILENAME
                else e
                for e in errors
            ]
        return None, errors


ORG_ONLY_KEYS = {
    "members": "a repository cannot add owners to its OSPO",
    "shared_with": "a repository cannot share its owner's data with an OSPO",
}


def org_only_errors(layer: Layer | None) -> list[ConfigError]:
    """`ospo.members` and `ospo.shared_with` in a repository's own file are errors: which
    owners an OSPO oversees, and which OSPOs an owner lets oversee it, are the organisation's
    decisions (its own file), never one repository's."""
    if layer is None:
        return []
    data, name = layer
    ospo = data.get("ospo") if isinstance(data, dict) else None
    if not isinstance(ospo, dict):
        return []
    errors = []
    where = getattr(ospo, "lc", None)
    for key, why in ORG_ONLY_KEYS.items():
        if key not in ospo:
            continue
        line, column = (None, None)
        if where is not None:
            at = where.key(key)
            line, column = at[0] + 1, at[1] + 1
        message = (
            "is read from the organisation's own file only (its .github repository, or the "
            f"group's gitlab-profile): {why}"
        )
        errors.append(ConfigError(name, line, column, f"ospo.{key}", message))
    return errors


def check_file(path: str | Path) -> list[ConfigError]:
    """Errors of a local file merged over the packaged defaults (`veilleur config check FILE`)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [ConfigError(name, None, None, "", f"cannot read the file: {exc}")]
    data, errors = parse_config_text(text, name)
    if errors:
        return errors
    return validate_layers(load_default(), None, (data, name))[1]


# -- loading with a cache ------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedConfig:
    """The config to act on, the errors of the current files (empty when valid), and their names.

    When `errors` is non-empty, `config` is the last valid config (or the defaults if there
    never was one); the caller opens or updates the "Veilleur configuration error" issue.
    """

    config: VeilleurConfig
    errors: list[ConfigError] = field(default_factory=list)
    source_files: tuple[str, ...] = ()
    fetched_at: datetime | None = None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class ConfigLoader:
    """Fetches and caches each repository's merged config (memory, then the `configs` table).

    `ttl_seconds` (VEILLEUR_CONFIG_REFETCH_SECONDS) is how long a fetched config is used before
    its files are read again: `on_push` forgets it as soon as a push touches them, so the TTL
    only bounds what no push announces. `memory_seconds` (VEILLEUR_CONFIG_CACHE_SECONDS) is how
    long a process trusts its own copy without looking at the stored one, where another
    process's `on_push` shows; a record forgotten that way reads the org's file again too.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        ttl_seconds: float = 300,
        *,
        memory_seconds: float | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        memory = ttl_seconds if memory_seconds is None else min(memory_seconds, ttl_seconds)
        self._memory_ttl = timedelta(seconds=memory)
        self._default = load_default()
        self._memory: dict[str, tuple[datetime, ResolvedConfig]] = {}
        self._orgs: dict[str, tuple[datetime, str | None]] = {}
        self._org_reads: dict[str, int] = {}
        self._parsed: dict[tuple[str, str, str | None, str | None, bool], Any] = {}

    def _fresh(self, when: datetime | None) -> bool:
        return when is not None and self._clock.now() - _aware(when) < self._ttl

    async def for_repo(self, api: Forge, repo: str, default_branch: str) -> ResolvedConfig:
        key, now = repo.lower(), self._clock.now()
        cached = self._memory.get(key)
        if (
            cached is not None
            and now - cached[0] < self._memory_ttl
            and self._fresh(cached[1].fetched_at)
        ):
            return cached[1]
        record = self._read(key)
        stored = self._from_record(record) if record is not None else None
        if stored is not None and self._fresh(stored.fetched_at):
            resolved = stored
            if cached is None or cached[1].fetched_at != stored.fetched_at:
                self._org_seen(owner_of(repo))  # another process read the files (perhaps a push)
        else:
            # Never fetched here, or forgotten by a push (perhaps in another process): the
            # org's file is read again too, whatever this process remembers of it.
            org_again = record is None or _aware(record.fetched_at) == _EPOCH
            try:
                resolved = await self._fetch(api, repo, default_branch, stored, org_again)
            except Exception:
                if stored is None:
                    raise
                log.warning("config fetch failed for %s; using the stored one", repo, exc_info=True)
                return stored
        self._memory[key] = (now, resolved)
        return resolved

    def invalidate(self, repo: str) -> None:
        key = repo.lower()
        self._memory.pop(key, None)
        self._expire(ConfigRecord.repo_full_name == key)

    def invalidate_org(self, org: str) -> None:
        prefix = org.lower() + "/"
        self._orgs.pop(org.lower(), None)
        for key in [k for k in self._memory if k.startswith(prefix)]:
            del self._memory[key]
        self._expire(func.substr(ConfigRecord.repo_full_name, 1, len(prefix)) == prefix)

    def on_push(self, payload: dict[str, Any]) -> bool:
        """Invalidate after a `push` that may change a config; True when something was dropped."""
        repo = (payload.get("repository") or {}).get("full_name") or ""
        default = (payload.get("repository") or {}).get("default_branch")
        if not repo or (default and payload.get("ref") != f"refs/heads/{default}"):
            return False
        commits = payload.get("commits") or []
        kinds = ("added", "modified", "removed")
        touched = {p for c in commits for k in kinds for p in c.get(k) or []}
        maybe = len(commits) >= 20 or bool(payload.get("forced"))  # the payload lists at most 20
        owner, name = owner_of(repo), RepoName.parse(repo).name
        if name.lower() in ORG_CONFIG_REPOS and (
            maybe or any(p.startswith(".github/") for p in touched)
        ):
            self.invalidate_org(owner)  # org config or org template overrides
            return True
        if maybe or CONFIG_PATH in touched:
            self.invalidate(repo)
            return True
        return False

    async def _fetch(
        self,
        api: Forge,
        repo: str,
        branch: str,
        stored: ResolvedConfig | None,
        org_again: bool = False,
    ) -> ResolvedConfig:
        now = self._clock.now()
        org = owner_of(repo)  # a GitHub org or a GitLab group, forge-qualified
        org_text = await self._org_text(api, org, again=org_again)
        repo_text = await api.get_file(repo, CONFIG_PATH, branch, keep=True)
        org_repo = RepoName.parse(repo).name.lower() in ORG_CONFIG_REPOS
        # The files' names are in the errors: files of the same text elsewhere are parsed anew.
        org_name, repo_name = org_file_name(org), repo_file_name(repo)
        key = (org_name, repo_name, org_text, repo_text, org_repo)
        memo = self._parsed.get(key)
        if memo is None:  # parsing is the costly part; unchanged files are not parsed again
            errors: list[ConfigError] = []
            sources = [DEFAULT_FILENAME]
            org_layer = self._layer(org_text, org_name, sources, errors)
            repo_layer = self._layer(repo_text, repo_name, sources, errors)
            if not org_repo:
                errors += org_only_errors(repo_layer)
            config: VeilleurConfig | None = None
            if not errors:
                config, errors = validate_layers(self._default, org_layer, repo_layer)
            if len(self._parsed) > 2048:
                self._parsed.clear()
            memo = self._parsed[key] = (config, list(errors), list(sources), org_layer)
        config, errors, sources, org_layer = memo[0], list(memo[1]), list(memo[2]), memo[3]
        if config is not None:
            self._write(repo.lower(), now, config.model_dump_json(by_alias=True), errors, sources)
            return ResolvedConfig(config, errors, tuple(sources), now)
        last_valid = stored.config if stored is not None else None
        kept = last_valid.model_dump_json(by_alias=True) if last_valid is not None else None
        self._write(repo.lower(), now, kept, errors, sources)
        return ResolvedConfig(last_valid or self._fallback(org_layer), errors, tuple(sources), now)

    @staticmethod
    def _layer(
        text: str | None, name: str, sources: list[str], errors: list[ConfigError]
    ) -> Layer | None:
        if text is None:
            return None
        sources.append(name)
        data, syntax = parse_config_text(text, name)
        errors += syntax
        return data, name

    def _fallback(self, org_layer: Layer | None) -> VeilleurConfig:
        """No valid config ever: the org's (if valid) over the defaults."""
        config, _ = validate_layers(self._default, org_layer, None)
        return config or VeilleurConfig.model_validate(self._default)

    async def _org_text(self, api: Forge, org: str, *, again: bool = False) -> str | None:
        hit = self._orgs.get(org.lower())
        if hit is not None and not again and self._fresh(hit[0]):
            return hit[1]
        text = await api.get_file(org_config_repo(org), CONFIG_PATH, None, keep=True)
        self._orgs[org.lower()] = (self._clock.now(), text)
        self._org_seen(org)
        return text

    def _org_seen(self, org: str) -> None:
        self._org_reads[org.lower()] = self._org_reads.get(org.lower(), 0) + 1

    def org_reads(self, org: str) -> int:
        """Grows each time this process reads the org's file, or takes a configuration of one
        of its repositories that another process read: what else is read from the org's
        `.github` repository (template overrides) is read again after it, so a push another
        process handled reaches it with the configuration."""
        return self._org_reads.get(org.lower(), 0)

    @staticmethod
    def _from_record(record: ConfigRecord) -> ResolvedConfig | None:
        """The stored config, or None when there is none usable (never valid, older schema)."""
        try:
            config = VeilleurConfig.model_validate_json(record.valid_json or "")
            last = json.loads(record.errors_json or "{}")
        except (ValidationError, ValueError):
            return None
        last = last if isinstance(last, dict) else {"errors": last}
        errors = [ConfigError.from_dict(e) for e in last.get("errors") or []]
        sources = tuple(last.get("sources") or ())
        return ResolvedConfig(config, errors, sources, _aware(record.fetched_at))

    def last_errors(self, repo: str) -> list[ConfigError]:
        """The errors of the last fetch (kept after a push drops the cache), so the report of
        a fixed configuration can still show what was wrong."""
        record = self._read(repo.lower())
        try:
            last = json.loads((record.errors_json if record else None) or "{}")
        except ValueError:
            return []
        last = last if isinstance(last, dict) else {"errors": last}
        return [ConfigError.from_dict(e) for e in last.get("errors") or []]

    def _read(self, key: str) -> ConfigRecord | None:
        with Session(self._engine) as session:
            return session.get(ConfigRecord, key)

    def _write(
        self,
        key: str,
        now: datetime,
        valid: str | None,
        errors: Sequence[ConfigError],
        sources: Sequence[str],
    ) -> None:
        with Session(self._engine, expire_on_commit=False) as session:
            record = session.get(ConfigRecord, key)
            record = record or ConfigRecord(repo_full_name=key, fetched_at=now)
            record.fetched_at = now
            record.valid_json = valid
            last = {"errors": [e.to_dict() for e in errors], "sources": list(sources)}
            record.errors_json = json.dumps(last)
            session.add(record)
            session.commit()

    def _expire(self, condition: Any) -> None:
        with Session(self._engine) as session:
            session.execute(update(ConfigRecord).where(condition).values(fetched_at=_EPOCH))
            session.commit()
