"""The simulated forge: a stateful fake of the GitHub API Veilleur uses, over real HTTP.

`Forge` holds the world and sends webhooks, `forge.scenario` drives it ("alice opens an
issue"), `ForgeServer` serves it with uvicorn, `generate_app_keypair` makes the App's key.
"""

from bot.sim.forge import Forge, RecordedRequest
from bot.sim.keys import AppKeyPair, generate_app_keypair
from bot.sim.models import FileChange
from bot.sim.scenario import Scenario
from bot.sim.server import ForgeServer, ThreadedServer

__all__ = [
    "AppKeyPair",
    "FileChange",
    "Forge",
    "ForgeServer",
    "RecordedRequest",
    "Scenario",
    "ThreadedServer",
    "generate_app_keypair",
]
