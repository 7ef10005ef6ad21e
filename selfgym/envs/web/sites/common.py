"""What the three Flask sites share: app factory, one SQLite connection per request, filters."""

import os
import sqlite3

from flask import Flask, current_app, g

SITES_DIR = os.path.dirname(os.path.abspath(__file__))


def create_site(name: str, title: str, db_path: str) -> Flask:
    """A Flask app whose templates are ``templates/<name>/`` and whose data is the SQLite file ``db_path``.

    A connection is opened per request (and closed after it), so that a reset which swaps the database file for a
    pristine copy is seen by the very next request.
    """
    app = Flask(f"selfgym_{name}", root_path=SITES_DIR, template_folder=f"templates/{name}", static_folder="static")
    app.config.update(DB_PATH=db_path, SITE_TITLE=title)
    app.secret_key = f"selfgym-{name}-local-only"
    app.jinja_env.filters["money"] = money
    app.teardown_appcontext(_close_db)
    app.after_request(_not_stored)

    @app.context_processor
    def site_globals():
        return {"site_title": title}

    return app


def db() -> sqlite3.Connection:
    """The request's connection to the site's database (rows behave like dicts)."""
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DB_PATH"], timeout=5)
        g.db.row_factory = sqlite3.Row
        g.db.execute("PRAGMA foreign_keys = ON")
    return g.db


def _close_db(_exc) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def _not_stored(response):
    """Pages are never cached: back() fetches the page again, so it shows the site's current data (as the browser's
    disabled back-forward cache intends), the same whether the page was first seen in this browser or not (forks)."""
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"
