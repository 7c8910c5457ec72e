"""GitLab, the second implementation of the forge seam (bot/forge/).

- client.py: `GitLabAPI`, the Forge protocol over GitLab's REST API v4 (httpx);
- shapes.py: GitLab objects told in the neutral shape; numbers.py: issue and merge request iids;
- hooks.py: GitLab webhooks told as the events the handlers plan from;
- webhook.py: `POST /webhooks/gitlab` (token, optional HMAC signature, dedupe, durable store);
- forges.py: which repositories live on GitLab, and their client;
- codeowners.py: CODEOWNERS in GitLab's syntax; settings.py: `VEILLEUR_GITLAB_*`.
"""
