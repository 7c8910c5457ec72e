"""Forge-qualified repository names: `owner/name` on GitHub, `host/group/…/project` elsewhere.

GitHub names stay as they always were (every record, key and URL keeps working); a name
from another forge starts with the forge's host. The rule is unambiguous because a GitHub
owner cannot contain a dot, and a host always does.
"""

from __future__ import annotations

from dataclasses import dataclass

GITHUB_HOST = "github.com"
# The repository of an organisation's own files: GitHub's `.github`, GitLab's group profile.
GITHUB_ORG_REPO = ".github"
GITLAB_ORG_REPO = "gitlab-profile"
# Veilleur's file in a repository at its canonical (GitHub) place, as forges are asked for it,
# and where GitLab keeps it (bot/gitlab/client.py reads `.github/veilleur.yml` there).
CONFIG_PATH = ".github/veilleur.yml"
GITLAB_CONFIG_PATH = ".gitlab/veilleur.yml"
# An organisation's template overrides (`<lang>/<name>.md.j2`) in its own repository: asked for
# at the canonical place, kept by a GitLab group in `.gitlab/` beside its Veilleur file.
OVERRIDES_DIR = ".github/veilleur/templates"
GITLAB_OVERRIDES_DIR = ".gitlab/veilleur/templates"
# Forges that number merge requests apart from issues (GitLab: `#7` and `!7`) store a merge
# request at this base plus its own number, so that (repository, number) stays one item.
PULL_NUMBER_BASE = 1_000_000_000


@dataclass(frozen=True)
class RepoName:
    host: str  # "github.com", "gitlab.example.org", "code.europa.eu"
    path: str  # "owner/name", or "group/subgroup/project" on GitLab

    @classmethod
    def parse(cls, full_name: str) -> RepoName:
        first, sep, rest = full_name.partition("/")
        if sep and "." in first and "/" in rest:
            return cls(first.lower(), rest)
        return cls(GITHUB_HOST, full_name)

    @property
    def on_github(self) -> bool:
        return self.host == GITHUB_HOST

    @property
    def full_name(self) -> str:
        """The name Veilleur stores and shows: unqualified on GitHub, host-qualified elsewhere."""
        return self.path if self.on_github else f"{self.host}/{self.path}"

    @property
    def namespace(self) -> str:
        """The owner (GitHub) or the group path (GitLab, subgroups included)."""
        return self.path.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


def owner_of(full_name: str) -> str:
    """The owner (organisation or group) of a repository, qualified like the repository:
    `octo` for `octo/app`, `gitlab.example.org/city` for `gitlab.example.org/city/app`."""
    repo = RepoName.parse(full_name)
    return repo.namespace if repo.on_github else f"{repo.host}/{repo.namespace}"


def is_qualified_owner(owner: str) -> bool:
    """A GitLab group named with its host (`gitlab.example.org/city`), not a GitHub owner."""
    first, sep, rest = owner.partition("/")
    return bool(sep and rest) and "." in first


def org_config_repo(org: str) -> str:
    """Where an organisation keeps its own files and configuration: `<org>/.github` on
    GitHub, the group's `gitlab-profile` project on GitLab (`host/group/gitlab-profile`)."""
    name = GITLAB_ORG_REPO if is_qualified_owner(org) else GITHUB_ORG_REPO
    return f"{org}/{name}"


def is_org_config_repo(full_name: str) -> bool:
    """Whether `full_name` is its owner's own repository (`org_config_repo`)."""
    return "/" in full_name and full_name.lower() == org_config_repo(owner_of(full_name)).lower()


def config_path(name: str) -> str:
    """Where the forge of `name` (a repository or an owner, forge-qualified) keeps Veilleur's
    file: the path a maintainer edits, which is what messages name (GitLab's is not the
    canonical `CONFIG_PATH` that forge clients are asked for)."""
    return GITLAB_CONFIG_PATH if is_qualified_owner(name) else CONFIG_PATH


def repo_file_name(repo: str) -> str:
    """How a repository's own Veilleur file is named to users: its path there."""
    return config_path(repo)


def org_file_name(org: str) -> str:
    """How an organisation's (group's) Veilleur file is named to users: the repository it lives
    in (`org_config_repo`: `org/.github`, a GitLab group's `gitlab-profile`) and its path there."""
    return f"{org_config_repo(org)}/{config_path(org)}"


def overrides_dir(org: str) -> str:
    """Where the forge of `org` keeps the organisation's template overrides (GitLab's unless
    the group still has them at the earlier place, which `Forge.place_of` tells)."""
    return GITLAB_OVERRIDES_DIR if is_qualified_owner(org) else OVERRIDES_DIR


def override_file_name(org: str, file: str, folder: str | None = None) -> str:
    """How an organisation's template override (`fr/welcome_issue.md.j2`) is named to users: the
    repository it lives in, the folder it was read from (else the forge's), and the file."""
    return f"{org_config_repo(org)}/{folder or overrides_dir(org)}/{file}"
