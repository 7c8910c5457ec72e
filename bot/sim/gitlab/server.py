"""The simulated GitLab over real HTTP (uvicorn in a thread, as the simulated GitHub)."""

from __future__ import annotations

from bot.sim.gitlab import hook_api
from bot.sim.gitlab.api import RestApp
from bot.sim.gitlab.hooks import HookSender
from bot.sim.gitlab.world import GitLabWorld
from bot.sim.server import ThreadedServer


class GitLabServer(ThreadedServer):
    """`world.url` becomes the server's address, so web links and `X-Gitlab-Instance` match."""

    def __init__(self, world: GitLabWorld, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(RestApp(world, hook_api.ROUTES), host=host, port=port)
        self.world = world
        world.sender = world.sender or HookSender(world)

    def start(self, timeout: float = 10.0) -> GitLabServer:
        self.world.url = self.url
        super().start(timeout)
        return self

    def __enter__(self) -> GitLabServer:
        return self.start()

    def stop(self) -> None:
        if self.world.sender is not None and hasattr(self.world.sender, "close"):
            self.world.sender.close()
        super().stop()
