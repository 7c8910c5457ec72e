"""The GitHub implementation: the githubkit client, REST and GraphQL calls, App authentication."""
