# SPDX-License-Identifier: EUPL-1.2
# Veilleur: `veilleur serve` (web + worker + scheduler) with the embedded SQLite database.
# Dependencies come from requirements.lock (pinned, hashes checked); the data lives in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY templates ./templates
COPY config ./config
COPY app-manifest.json ./
# `veilleur serve` runs without docstrings nor assertions (`python -OO`: several MB less per
# process); their bytecode is compiled here: the veilleur user cannot write it at run time.
RUN pip install --no-deps . && python -OO -m compileall -q -j 0 /usr/local/lib/python3.11 \
 && useradd --create-home --uid 10001 veilleur && mkdir /data && chown veilleur /data

USER veilleur
WORKDIR /data
# The SQLite database (and a `.env` written by `veilleur setup`, if you keep it there).
VOLUME /data
ENV VEILLEUR_HOST=0.0.0.0 VEILLEUR_PORT=8000 VEILLEUR_DATABASE_URL=sqlite:////data/veilleur.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
CMD ["veilleur", "serve"]
