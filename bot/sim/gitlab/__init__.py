"""A simulated GitLab, stateful, served over real HTTP beside the simulated GitHub
(bot/simforge): the REST endpoints `bot.gitlab.GitLabAPI` calls, with GitLab's field names,
pagination and rate-limit headers, and webhooks shaped like GitLab's own examples.

Used by the tests and the demo only; nothing in the product imports it.
"""

from bot.sim.gitlab.server import GitLabServer
from bot.sim.gitlab.world import GitLabWorld

__all__ = ["GitLabServer", "GitLabWorld"]
