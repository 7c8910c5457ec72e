"""Repository configuration: line-accurate errors, layered merge, and the TTL-cached loader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote

import pytest
from githubkit.exception import RequestFailed
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from bot.clock import FrozenClock
from bot.config.loader import (
    CONFIG_PATH,
    ConfigError,
    ConfigLoader,
    check_file,
    deep_merge,
    load_default,
    parse_config_text,
    validate_layers,
)
from bot.config.schema import VeilleurConfig
from bot.github.client import GitHubAPI, make_app_client
from bot.messages.overrides import TemplateOverrides
from bot.messages.templating import Renderer
from bot.settings import Settings
from bot.sim import Forge, RecordedRequest
from bot.storage.db import make_engine
from bot.storage.models import ConfigRecord

REPO = ".github/veilleur.yml"
ORG = "acme/.github/.github/veilleur.yml"


def repo_layer(text: str) -> tuple[dict, str]:
    data, errors = parse_config_text(text, REPO)
    assert errors == []
    return data, REPO


def validate(text: str, org: str | None = None) -> tuple[VeilleurConfig | None, list[ConfigError]]:
    org_layer = (parse_config_text(org, ORG)[0], ORG) if org is not None else None
    return validate_layers(load_default(), org_layer, repo_layer(text))


# -- defaults -------------------------------------------------------------------------------------


def test_default_file_equals_model_defaults() -> None:
    config, errors = validate_layers(load_default(), None, None)
    assert errors == []
    assert config == VeilleurConfig()


def test_every_default_key_is_documented_by_a_comment() -> None:
    """Each key of default.yml has a comment on the line above it or at the end of its line."""
    from bot.resources import config_dir

    lines = (config_dir() / "default.yml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or ":" not in stripped:
            continue
        above = lines[i - 1].strip() if i else ""
        assert above.startswith("#") or " # " in line, f"undocumented key on line {i + 1}: {line}"


# -- errors with their line -----------------------------------------------------------------------


def test_unknown_key_is_reported_on_its_line() -> None:
    text = "language: fr\nlabels:\n  overdue: late\n  extrnal: outside\n"
    config, errors = validate(text)
    assert config is None
    assert len(errors) == 1
    err = errors[0]
    assert (err.file, err.line, err.column, err.path) == (REPO, 4, 3, "labels.extrnal")
    assert str(err).startswith(".github/veilleur.yml:4: labels.extrnal: unknown key")
    assert '"external"' in err.message  # a hint for the typo


def test_wrong_type_is_reported_on_its_line_and_column() -> None:
    text = "sla:\n  enabled: true\n  first_response_days: soon\n"
    _, errors = validate(text)
    assert [(e.line, e.column, e.path) for e in errors] == [(3, 24, "sla.first_response_days")]
    assert errors[0].message == "must be a whole number (got 'soon')"


@pytest.mark.parametrize(
    ("text", "line", "path", "needle"),
    [
        ("calendar:\n  timezone: Europe/Pariss\n", 2, "calendar.timezone", "time zone"),
        ("calendar:\n  country: ZZ\n", 2, "calendar.country", "ZZ"),
        ("calendar:\n  country: FR\n  subdivision: Mars\n", 3, "calendar.subdivision", "FR"),
        (
            "calendar:\n  working_hours:\n    start: '18:00'\n    end: '09:00'\n",
            4,
            "calendar.working_hours.end",
            "later",
        ),
        ("calendar:\n  working_hours: {start: 25:00}\n", 2, "calendar.working_hours.start", "time"),
        (
            "calendar:\n  closures:\n    - from: 2025-12-24\n      to: 2025-12-20\n",
            4,
            "calendar.closures[0].to",
            "before",
        ),
        ("calendar:\n  workdays: [mon, funday]\n", 2, "calendar.workdays[1]", "mon"),
        ("digest:\n  schedule:\n    hour: 24\n", 3, "digest.schedule.hour", "23"),
        ("digest:\n  language: es\n", 2, "digest.language", "fr"),
        ("language: es\n", 1, "language", "languages"),
        ("maintainers:\n  users: [alice, 'not a login']\n", 2, "maintainers.users[1]", "login"),
        ("ospo:\n  emails: [ospo@example.org, nope]\n", 2, "ospo.emails[1]", "e-mail"),
        (
            "stale:\n  nudge_after_days: 10\n  close_after_days: 5\n",
            3,
            "stale.close_after_days",
            "",
        ),
        ("partners:\n  - name: Acme\n    colour: red\n", 3, "partners[0].colour", "unknown key"),
        ("partners:\n  - logins: [bob]\n", 2, "partners[0].name", "missing"),
        ("welcome: 3\n", 1, "welcome", ""),
    ],
)
def test_invalid_values_point_at_their_line(text: str, line: int, path: str, needle: str) -> None:
    _, errors = validate(text)
    assert [(e.file, e.line, e.path) for e in errors] == [(REPO, line, path)], errors
    assert needle in errors[0].message


def test_yaml_syntax_error_has_its_line() -> None:
    data, errors = parse_config_text("labels:\n  external: ext\n  overdue: [late\nsla: {}\n", REPO)
    assert data == {}
    assert len(errors) == 1
    assert errors[0].line == 4 and errors[0].file == REPO
    assert "YAML syntax error" in str(errors[0])


def test_duplicate_key_and_non_mapping_are_errors() -> None:
    _, dup = parse_config_text("language: fr\nlanguage: en\n", REPO)
    assert dup and dup[0].line == 2 and "duplicate" in dup[0].message
    _, seq = parse_config_text("- language\n", REPO)
    assert seq and seq[0].line == 1


def test_empty_file_is_valid() -> None:
    data, errors = parse_config_text("# nothing yet\n", REPO)
    assert errors == [] and data == {}
    assert validate_layers(load_default(), None, (data, REPO))[1] == []


def test_error_in_org_file_names_the_org_file() -> None:
    org = "labels:\n  overdue: late\n  overdu: late\n"
    _, errors = validate("language: fr\n", org=org)
    assert [(e.file, e.line, e.path) for e in errors] == [(ORG, 3, "labels.overdu")]


def test_error_under_a_replaced_list_belongs_to_the_file_that_replaced_it() -> None:
    org = "areas:\n  paths:\n    - glob: 'docs/**'\n      label: docs\n"
    repo = "# repo\nareas:\n  paths:\n    - glob: 'src/**'\n"
    _, errors = validate(repo, org=org)
    assert [(e.file, e.line, e.path) for e in errors] == [(REPO, 4, "areas.paths[0].label")]


def test_a_default_clashing_with_a_user_value_is_reported_in_the_user_file() -> None:
    _, errors = validate("# only French here\nlanguages: [fr]\n")
    assert [(e.file, e.line, e.path) for e in errors] == [(REPO, None, "language")]
    assert "(default value)" in errors[0].message and "fr" in errors[0].message


def test_check_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("language: fr\nwelcome: {enabled: false}\n")
    assert check_file(good) == []
    bad = tmp_path / "bad.yml"
    bad.write_text("language: fr\nsla:\n  remind_every: 2\n")
    [error] = check_file(bad)
    assert (
        str(error) == f'{bad}:3: sla.remind_every: unknown key; did you mean "remind_every_days"?'
    )
    assert check_file(tmp_path / "missing.yml")[0].line is None


# -- merging --------------------------------------------------------------------------------------


def test_deep_merge_mappings_merge_and_lists_replace() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    over = {"a": {"y": [3]}, "c": 2}
    assert deep_merge(base, over) == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}  # inputs untouched
    assert deep_merge({"a": {"x": 1}}, {"a": None}) == {"a": {"x": 1}}  # empty section: no change


def test_precedence_repo_over_org_over_default() -> None:
    org = "language: fr\nsla:\n  first_response_days: 4\n  follow_up_days: 6\n"
    repo = "sla:\n  first_response_days: 2\n"
    config, errors = validate(repo, org=org)
    assert errors == [] and config is not None
    assert config.language == "fr"  # org over default
    assert config.sla.first_response_days == 2  # repo over org
    assert config.sla.follow_up_days == 6  # org kept where the repo is silent
    assert config.sla.remind_every_days == 2  # default kept where both are silent


def test_repo_can_turn_off_a_default() -> None:
    config, errors = validate("welcome: {enabled: false}\ncommands:\n  enabled: false\n")
    assert errors == [] and config is not None
    assert config.welcome.enabled is False and config.welcome.issues is True
    assert config.commands.enabled is False


def test_closure_alias_and_round_trip_through_json() -> None:
    text = "calendar:\n  closures:\n    - {from: 2025-12-24, to: 2026-01-02, reason: break}\n"
    config, errors = validate(text)
    assert errors == [] and config is not None
    closure = config.calendar.closures[0]
    assert (closure.from_.isoformat(), closure.to.isoformat()) == ("2025-12-24", "2026-01-02")
    again = VeilleurConfig.model_validate_json(config.model_dump_json(by_alias=True))
    assert again == config


def test_logins_may_carry_an_at_sign() -> None:
    config, _ = validate("maintainers:\n  users: ['@alice']\n  teams: ['@core']\n")
    assert config is not None
    assert config.maintainers.users == ["alice"] and config.maintainers.teams == ["core"]


# -- the loader -----------------------------------------------------------------------------------


CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'cfg.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


class ForgeFiles:
    """The `acme` org's configuration files on the simulated forge: `set` changes one,
    `calls` lists the contents requests Veilleur made, `fail` makes the next ones fail."""

    def __init__(self, forge: Forge, files: dict[tuple[str, str], str]) -> None:
        self.forge = forge
        forge.add_org("acme")
        for repo in sorted({repo for repo, _ in files} | {"acme/app"}):
            forge.add_repo(repo, files={p: t for (r, p), t in files.items() if r == repo})
        self.installation_id = forge.install("acme").id

    def set(self, repo: str, path: str, text: str) -> None:
        self.forge.set_file(repo, path, text)

    @property
    def calls(self) -> list[tuple[str, str, str | None]]:
        """(repo, path, ref) of each contents request, in order."""
        out = []
        for r in self.forge.requests_to(CONTENTS, "GET"):
            _, _, owner, name, _, path = r.path.split("/", 5)
            ref = parse_qs(r.query).get("ref", [None])[0]
            out.append((f"{owner}/{name}", unquote(path), ref))
        return out

    def fail(self) -> None:
        """Refused from now on (a 400 is not retried: no waiting for back-offs)."""
        self.forge.inject("GET", r"/contents/", status=400, times=1_000_000)


ACME_FILES = {
    ("acme/app", CONFIG_PATH): "sla:\n  first_response_days: 2\n",
    ("acme/.github", CONFIG_PATH): "language: fr\n",
}


def client(files: ForgeFiles, settings: Settings) -> GitHubAPI:
    return GitHubAPI(make_app_client(settings), files.installation_id)


@pytest.fixture
def files(forge: Forge) -> ForgeFiles:
    return ForgeFiles(forge, ACME_FILES)


@pytest.fixture
def api(files: ForgeFiles, forge_settings: Settings) -> GitHubAPI:
    return client(files, forge_settings)


async def test_loader_merges_and_caches_within_ttl(
    engine: Engine, clock: FrozenClock, api: GitHubAPI, files: ForgeFiles
) -> None:
    loader = ConfigLoader(engine, clock, ttl_seconds=300)
    first = await loader.for_repo(api, "acme/app", "main")
    assert first.errors == []
    assert first.config.language == "fr" and first.config.sla.first_response_days == 2
    assert first.source_files == ("config/default.yml", ORG, CONFIG_PATH)
    assert ("acme/app", CONFIG_PATH, "main") in files.calls
    calls = len(files.calls)
    clock.advance(timedelta(seconds=299))
    assert (await loader.for_repo(api, "acme/app", "main")).config == first.config
    assert len(files.calls) == calls  # cached
    # A second process (fresh loader, same database) uses the stored config without calls.
    other = ConfigLoader(engine, clock, ttl_seconds=300)
    stored = await other.for_repo(api, "acme/app", "main")
    assert stored.config == first.config and stored.source_files == first.source_files
    assert len(files.calls) == calls
    clock.advance(timedelta(seconds=2))
    await loader.for_repo(api, "acme/app", "main")
    assert len(files.calls) == calls + 2  # expired: org and repo files fetched again


async def test_invalidation_refetches(
    engine: Engine, clock: FrozenClock, api: GitHubAPI, files: ForgeFiles
) -> None:
    loader = ConfigLoader(engine, clock, ttl_seconds=3600)
    await loader.for_repo(api, "acme/app", "main")
    files.set("acme/app", CONFIG_PATH, "sla:\n  first_response_days: 1\n")
    loader.invalidate("acme/app")
    assert (await loader.for_repo(api, "acme/app", "main")).config.sla.first_response_days == 1
    files.set("acme/.github", CONFIG_PATH, "language: de\n")
    loader.invalidate_org("acme")
    assert (await loader.for_repo(api, "acme/app", "main")).config.language == "de"


async def test_push_touching_the_config_invalidates(
    engine: Engine, clock: FrozenClock, api: GitHubAPI, files: ForgeFiles
) -> None:
    loader = ConfigLoader(engine, clock, ttl_seconds=3600)
    await loader.for_repo(api, "acme/app", "main")
    repo = {"full_name": "acme/app", "default_branch": "main"}
    other = {"ref": "refs/heads/main", "repository": repo, "commits": [{"modified": ["README"]}]}
    assert loader.on_push(other) is False
    branch = {"ref": "refs/heads/dev", "repository": repo, "commits": [{"modified": [CONFIG_PATH]}]}
    assert loader.on_push(branch) is False
    push = {"ref": "refs/heads/main", "repository": repo, "commits": [{"added": [CONFIG_PATH]}]}
    assert loader.on_push(push) is True
    org_repo = {"full_name": "acme/.github", "default_branch": "main"}
    org_push = {
        "ref": "refs/heads/main",
        "repository": org_repo,
        "commits": [{"modified": [CONFIG_PATH]}],
    }
    assert loader.on_push(org_push) is True
    calls = len(files.calls)
    await loader.for_repo(api, "acme/app", "main")
    assert len(files.calls) == calls + 2


async def test_refetch_after_the_ttl_and_a_push_seen_by_every_process(
    engine: Engine, clock: FrozenClock, api: GitHubAPI, files: ForgeFiles
) -> None:
    """VEILLEUR_CONFIG_REFETCH_SECONDS (an hour) bounds what no push announces; a process's
    own copy (VEILLEUR_CONFIG_CACHE_SECONDS) only until it looks at the stored one again."""
    here = ConfigLoader(engine, clock, ttl_seconds=3600, memory_seconds=300)
    there = ConfigLoader(engine, clock, ttl_seconds=3600, memory_seconds=300)
    await here.for_repo(api, "acme/app", "main")
    await there.for_repo(api, "acme/app", "main")
    calls = len(files.calls)
    clock.advance(timedelta(minutes=30))  # past the memory copy, within the refetch time
    await here.for_repo(api, "acme/app", "main")
    assert len(files.calls) == calls
    # The org's file changes; the push is handled by the other process.
    files.set("acme/.github", CONFIG_PATH, "language: de\n")
    org_push = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "acme/.github", "default_branch": "main"},
        "commits": [{"modified": [CONFIG_PATH]}],
    }
    assert there.on_push(org_push) is True
    clock.advance(timedelta(minutes=5, seconds=1))
    assert (await here.for_repo(api, "acme/app", "main")).config.language == "de"
    calls = len(files.calls)
    clock.advance(timedelta(minutes=59))
    await here.for_repo(api, "acme/app", "main")
    assert len(files.calls) == calls  # within the hour: no read
    clock.advance(timedelta(minutes=2))
    await here.for_repo(api, "acme/app", "main")
    assert len(files.calls) == calls + 2  # an hour on: both files read again


async def test_template_overrides_are_read_again_with_the_org_config(
    engine: Engine, clock: FrozenClock, forge: Forge, forge_settings: Settings
) -> None:
    """Cached for VEILLEUR_CONFIG_REFETCH_SECONDS like the configuration; a push to the org's
    `.github` handled by another process reaches them when the org config is read again."""
    tpl = ".github/veilleur/templates/en/welcome_issue.md.j2"
    files = ForgeFiles(forge, {**ACME_FILES, ("acme/.github", tpl): "Hello A\n"})
    api = client(files, forge_settings)

    def process() -> tuple[ConfigLoader, TemplateOverrides]:
        loader = ConfigLoader(engine, clock, ttl_seconds=3600, memory_seconds=300)
        return loader, TemplateOverrides(Renderer(), clock, 3600, org_reads=loader.org_reads)

    async def welcome(loader: ConfigLoader, overrides: TemplateOverrides) -> str:
        await loader.for_repo(api, "acme/app", "main")  # each event reads its config first
        return (await overrides.renderer_for(api, "acme/app")).overrides["en/welcome_issue.md.j2"]

    here, there = process(), process()
    assert await welcome(*here) == await welcome(*there) == "Hello A\n"
    calls = len(files.calls)
    clock.advance(timedelta(minutes=30))
    assert await welcome(*here) == "Hello A\n" and len(files.calls) == calls  # within the hour
    files.set("acme/.github", tpl, "Hello B\n")
    push = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "acme/.github", "default_branch": "main"},
        "commits": [{"modified": [tpl]}],
    }
    assert there[0].on_push(push) is True
    there[1].invalidate("acme")
    assert await welcome(*there) == "Hello B\n"
    clock.advance(timedelta(minutes=5, seconds=1))  # past the other process's own copy
    assert await welcome(*here) == "Hello B\n"
    calls = len(files.calls)
    clock.advance(timedelta(minutes=53))  # 59 minutes after the other process read them
    assert await welcome(*here) == "Hello B\n" and len(files.calls) == calls
    clock.advance(timedelta(minutes=3))
    await welcome(*here)
    assert any(path.startswith(".github/veilleur/templates") for _, path, _ in files.calls[calls:])


async def test_refetches_are_conditional_requests_answered_304_while_unchanged(
    engine: Engine, clock: FrozenClock, forge: Forge, forge_settings: Settings
) -> None:
    """The hourly refetch of the configuration and the template overrides sends each file's
    ETag (`If-None-Match`): the simulated forge answers 304, as GitHub does, without counting
    it against the rate limit, and the kept copy is used; a file changed meanwhile (no push
    announced it) comes back with 200 and its new text."""
    tpl = ".github/veilleur/templates/en/welcome_issue.md.j2"
    files = ForgeFiles(forge, {**ACME_FILES, ("acme/.github", tpl): "Hello A\n"})
    api = client(files, forge_settings)
    loader = ConfigLoader(engine, clock, ttl_seconds=3600)
    overrides = TemplateOverrides(Renderer(), clock, 3600, org_reads=loader.org_reads)

    async def read() -> tuple[str, str, list[RecordedRequest]]:
        seen = len(forge.requests)
        config = (await loader.for_repo(api, "acme/app", "main")).config
        welcome = (await overrides.renderer_for(api, "acme/app")).overrides
        asked = [r for r in forge.requests[seen:] if r.template == CONTENTS]
        return config.language, welcome["en/welcome_issue.md.j2"], asked

    language, text, first = await read()
    assert (language, text) == ("fr", "Hello A\n")
    assert {r.status for r in first} == {200} and all("etag" in r.response_headers for r in first)
    clock.advance(timedelta(hours=1, seconds=1))  # past VEILLEUR_CONFIG_REFETCH_SECONDS
    language, text, again = await read()
    assert (language, text) == ("fr", "Hello A\n")
    assert [(r.path, r.status) for r in again] == [(r.path, 304) for r in first]
    assert all(r.response_json is None for r in again)
    used = [int(r.response_headers["x-ratelimit-used"]) for r in again]
    assert len(set(used)) == 1  # no 304 was counted
    files.set("acme/.github", CONFIG_PATH, "language: nl\n")  # no push event for it
    clock.advance(timedelta(hours=1, seconds=1))
    language, text, third = await read()
    assert (language, text) == ("nl", "Hello A\n")
    changed = {r.path: r.status for r in third}
    org_file = f"/repos/acme/.github/contents/{CONFIG_PATH}"
    assert changed.pop(org_file) == 200 and set(changed.values()) == {304}


async def test_invalid_file_falls_back_to_last_valid(
    engine: Engine, clock: FrozenClock, api: GitHubAPI, files: ForgeFiles
) -> None:
    loader = ConfigLoader(engine, clock, ttl_seconds=60)
    good = await loader.for_repo(api, "acme/app", "main")
    files.set("acme/app", CONFIG_PATH, "sla:\n  first_response_days: 1\n  bogus: 1\n")
    clock.advance(timedelta(seconds=61))
    bad = await loader.for_repo(api, "acme/app", "main")
    assert bad.config == good.config  # last valid one
    assert [(e.line, e.path) for e in bad.errors] == [(3, "sla.bogus")]
    # The fallback survives a restart, and the errors are kept with it.
    restarted = await ConfigLoader(engine, clock, ttl_seconds=60).for_repo(api, "acme/app", "main")
    assert restarted.config == good.config and restarted.errors == bad.errors
    # Syntax errors too.
    files.set("acme/app", CONFIG_PATH, "sla: [\n")
    loader.invalidate("acme/app")
    broken = await loader.for_repo(api, "acme/app", "main")
    assert broken.config == good.config and broken.errors[0].message.startswith("YAML syntax")
    # Fixed again: errors are gone (the caller closes its issue).
    files.set("acme/app", CONFIG_PATH, "sla:\n  first_response_days: 5\n")
    loader.invalidate("acme/app")
    fixed = await loader.for_repo(api, "acme/app", "main")
    assert fixed.errors == [] and fixed.config.sla.first_response_days == 5
    with Session(engine) as session:
        record = session.get(ConfigRecord, "acme/app")
        assert record is not None and json.loads(record.errors_json or "{}")["errors"] == []


async def test_errors_name_each_organisations_own_files(
    engine: Engine, clock: FrozenClock, forge: Forge, forge_settings: Settings
) -> None:
    """Two organisations with the same files: each one's errors name its own files (the
    parsed files are kept for the next repository, not for another organisation's)."""
    loader = ConfigLoader(engine, clock, 60)
    for org in ("acme", "beta"):
        forge.add_org(org)
        forge.add_repo(f"{org}/.github", files={CONFIG_PATH: "labels:\n  overdu: late\n"})
        forge.add_repo(f"{org}/app", files={CONFIG_PATH: "language: fr\nsla:\n  bogus: 1\n"})
        api = GitHubAPI(make_app_client(forge_settings), forge.install(org).id)
        resolved = await loader.for_repo(api, f"{org}/app", "main")
        assert sorted((e.file, e.line, e.path) for e in resolved.errors) == [
            (".github/veilleur.yml", 3, "sla.bogus"),
            (f"{org}/.github/.github/veilleur.yml", 2, "labels.overdu"),
        ]


async def test_never_valid_file_uses_defaults_and_org(
    engine: Engine, clock: FrozenClock, forge: Forge, forge_settings: Settings
) -> None:
    files = ForgeFiles(
        forge,
        {("acme/.github", CONFIG_PATH): "language: nl\n", ("acme/app", CONFIG_PATH): "x: 1\n"},
    )
    api = client(files, forge_settings)
    resolved = await ConfigLoader(engine, clock, 60).for_repo(api, "acme/app", "main")
    assert resolved.config.language == "nl"
    assert [e.path for e in resolved.errors] == ["x"]


async def test_fetch_failure_serves_the_stored_config(
    engine: Engine, clock: FrozenClock, api: GitHubAPI, files: ForgeFiles
) -> None:
    loader = ConfigLoader(engine, clock, ttl_seconds=60)
    good = await loader.for_repo(api, "acme/app", "main")
    clock.advance(timedelta(minutes=5))
    files.fail()
    assert (await loader.for_repo(api, "acme/app", "main")).config == good.config
    with pytest.raises(RequestFailed):  # nothing stored: the failure is the caller's
        await loader.for_repo(api, "acme/other", "main")


async def test_no_files_at_all_gives_defaults(
    engine: Engine, clock: FrozenClock, forge: Forge, forge_settings: Settings
) -> None:
    api = client(ForgeFiles(forge, {}), forge_settings)
    resolved = await ConfigLoader(engine, clock, 60).for_repo(api, "acme/app", "main")
    assert resolved.errors == [] and resolved.config == VeilleurConfig()
    assert resolved.source_files == ("config/default.yml",)
