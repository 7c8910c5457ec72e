"""The demo's world: the City of Paris, twelve shared repositories on the simulated GitHub, the
City of Gent's project on the simulated GitLab (Paris's OSPO oversees it), and who contributes."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sim import Forge
from bot.sim.gitlab import GitLabWorld

ORG = "paris"
REPOS = (
    "lutece-core",
    "lutece-form",
    "lutece-appointment",
    "lutece-carto",
    "lutece-document",
    "lutece-search",
    "lutece-notify",
    "lutece-workflow",
    "lutece-identity",
    "lutece-theme",
    "lutece-mobile",
    "lutece-docs",
)
OSPO_REPO = f"{ORG}/ospo"
OSPO_EMAIL = "ospo@paris.example"
# Gent's project lives on the simulated GitLab, served on this host (any port): Veilleur names
# it `127.0.0.1/stad-gent/lutece-gent`, and Paris's OSPO lists the group in `ospo.members`.
GITLAB_HOST = "127.0.0.1"
GENT_GROUP = "stad-gent"
GENT_PROJECT = f"{GENT_GROUP}/lutece-gent"
GENT_OWNER = f"{GITLAB_HOST}/{GENT_GROUP}"
GENT_REPO = f"{GITLAB_HOST}/{GENT_PROJECT}"

ORG_CONFIG = """\
# Ville de Paris: shared settings for every repository (org .github repository).
language: fr
maintainers:
  teams: [mainteneurs]
partners:
  - name: Lyon
    github_orgs: [ville-de-lyon]
  - name: Gent
    github_orgs: [stad-gent]
  - name: Atos
    logins: [atos-dev]
    email_domains: [atos.example]
    internal: true
areas:
  paths:
    - {glob: "docs/**", label: documentation}
  keywords:
    - label: cartographie
      words: {fr: [carte, plan], en: [map], nl: [kaart]}
    - label: formulaires
      words: {fr: [formulaire], en: [form], nl: [formulier]}
calendar:
  timezone: Europe/Paris
  country: FR
  closures:
    - {from: 2026-08-10, to: 2026-08-21}
sla:
  first_response_days: 3
  follow_up_days: 5
  remind_every_days: 2
  escalate_after_days: 10
  max_reminders: 3
ospo:
  team: "@paris/ospo"
  repository: paris/ospo
  emails: [ospo@paris.example]
  # Gent's group on the city's GitLab: in Paris's digest and dashboard too
  members: [127.0.0.1/stad-gent]
digest:
  emails: [ospo@paris.example]
  language: fr
"""


# Gent's own file (its group's gitlab-profile): it consents to Paris's OSPO covering it.
GENT_GROUP_CONFIG = """\
# Stad Gent's own Veilleur file: which OSPOs may include its projects and contributors.
ospo:
  shared_with: [paris]
"""


GENT_CONFIG = """\
# Stad Gent: its project on the GitLab it shares with its partners.
language: nl
calendar:
  timezone: Europe/Brussels
  country: BE
sla:
  first_response_days: 3
  remind_every_days: 2
  escalate_after_days: 10
  max_reminders: 3
"""


@dataclass(frozen=True)
class People:
    # the city's maintainers: Inès answers, Hugo (who owns the map) does not
    answering_maintainer: str = "ines"
    silent_maintainer: str = "hugo"
    lead_maintainer: str = "marie"
    ospo_member: str = "nadia"
    private_member: str = "paul-agent"  # private org member: author_association says CONTRIBUTOR
    # outside contributors
    citizen_fr: str = "camille"
    citizen_en: str = "alice"
    citizen_en_2: str = "bob-dev"
    lyon: str = "lea-lyon"
    lyon_2: str = "sofia-lyon"
    gent: str = "jan-gent"
    supplier: str = "atos-dev"
    bot: str = "dependabot[bot]"
    # on Gent's GitLab: Pieter maintains the project, Sanne contributes (in Dutch)
    gent_maintainer: str = "pieter"
    gent_citizen: str = "sanne"


P = People()


def codeowners(repo: str) -> str:
    if repo == "lutece-carto":
        return f"* @{P.silent_maintainer}\n"
    return f"* @{ORG}/mainteneurs\ndocs/ @{P.answering_maintainer}\n"


def seed(forge: Forge) -> None:
    forge.add_org(ORG, description="Ville de Paris")
    forge.add_org("ville-de-lyon", description="Ville de Lyon")
    forge.add_org("stad-gent", description="Stad Gent")
    for login in (
        P.answering_maintainer,
        P.silent_maintainer,
        P.lead_maintainer,
        P.ospo_member,
        P.private_member,
        P.supplier,
    ):
        forge.add_user(login)
    forge.add_user(P.citizen_fr, name="Camille Martin")
    forge.add_user(P.citizen_en, name="Alice Smith", company="OpenCity Ltd")
    forge.add_user(P.citizen_en_2, name="Bob")
    forge.add_user(P.lyon, company="Ville de Lyon")
    forge.add_user(P.lyon_2, company="Ville de Lyon")
    forge.add_user(P.gent, company="Stad Gent")
    forge.add_user(P.bot, type="Bot")
    for login in (P.answering_maintainer, P.silent_maintainer, P.lead_maintainer):
        forge.add_member(ORG, login, public=True)
    forge.add_member(ORG, P.ospo_member, public=True)
    forge.add_member(ORG, P.private_member)
    forge.add_member("ville-de-lyon", P.lyon, public=True)
    forge.add_member("ville-de-lyon", P.lyon_2, public=True)
    forge.add_member("stad-gent", P.gent, public=True)
    forge.add_team(
        ORG,
        "mainteneurs",
        maintainers=[P.lead_maintainer],
        members=[P.answering_maintainer, P.silent_maintainer],
    )
    forge.add_team(ORG, "ospo", members=[P.ospo_member])
    forge.add_repo(f"{ORG}/.github", files={".github/veilleur.yml": ORG_CONFIG})
    forge.add_repo(OSPO_REPO, description="Bureau open source de la Ville")
    for name in REPOS:
        files = {
            "README.md": f"# {name}\n\nModule Lutèce de la Ville de Paris.\n",
            "CONTRIBUTING.md": "Merci de contribuer ! Ouvrez un ticket avant une grosse modification.\n",
            ".github/CODEOWNERS": codeowners(name),
            "docs/index.md": "Documentation\n",
            "src/main.java": "class Main {}\n",
        }
        full = f"{ORG}/{name}"
        forge.add_repo(full, description=f"Lutèce: {name}", files=files)
        for login in (P.answering_maintainer, P.silent_maintainer, P.lead_maintainer):
            forge.set_permission(full, login, "write")


def seed_gitlab(world: GitLabWorld) -> None:
    """Gent on the simulated GitLab: its group, its own file (the group's public
    `gitlab-profile`, which consents to Paris's OSPO), its project with Veilleur's
    configuration, Pieter and Veilleur's bot user as the project's Maintainers (the bot reads
    the public profile without being a member of it, so the demo covers one Gent project)."""
    world.add_user(P.gent_maintainer, name="Pieter De Smet")
    world.add_user(P.gent_citizen, name="Sanne Peeters")
    world.add_group(GENT_GROUP)
    files = {
        ".gitlab/veilleur.yml": GENT_CONFIG,
        "README.md": "# lutece-gent\n\nLutèce-modules van Stad Gent.\n",
        "CONTRIBUTING.md": "Bedankt om bij te dragen! Open eerst een issue.\n",
        "src/main.js": "export {};\n",
    }
    world.add_project(GENT_PROJECT, files=files)
    profile = {".gitlab/veilleur.yml": GENT_GROUP_CONFIG}
    world.add_project(f"{GENT_GROUP}/gitlab-profile", files=profile)
    world.add_member(GENT_PROJECT, world.bot["username"], 40)  # Maintainer: labels and notes
    world.add_member(GENT_PROJECT, P.gent_maintainer, 40)
