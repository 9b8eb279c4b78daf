"""The hub's schema migrations (tortoise's own), applied by ``cardhub db upgrade``.

After changing a model: ``.venv/bin/tortoise makemigrations``, then ``ruff check --fix`` and ``ruff format``
on the new file. A migration that has been released is never edited: the next change is a new one.
"""
