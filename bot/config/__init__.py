"""Repository configuration: loading and merging `.github/veilleur.yml`, its schema, its errors."""
