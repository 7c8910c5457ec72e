"""The forge seam: what Veilleur needs from a code forge, and the forge-neutral values it uses.

`Forge` (bot/forge/protocol.py) lists the operations; bot/github/client.py and bot/gitlab/ implement
it. Repository names carry their forge when it is not GitHub (bot/forge/names.py).
"""

from bot.forge.names import GITHUB_HOST, RepoName, org_config_repo, owner_of
from bot.forge.protocol import Forge, RepoForges
from bot.forge.types import Comment, ItemRef, Label, Person

__all__ = [
    "GITHUB_HOST",
    "Comment",
    "Forge",
    "ItemRef",
    "Label",
    "Person",
    "RepoForges",
    "RepoName",
    "org_config_repo",
    "owner_of",
]
