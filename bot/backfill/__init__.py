"""History import: an organization's issues and pull requests read over GraphQL into the record."""
