# SPDX-License-Identifier: EUPL-1.2
"""`veilleur setup`: register the GitHub App with GitHub's manifest flow from a local page, and
write the credentials GitHub hands back into a `.env` file only its owner can read."""
