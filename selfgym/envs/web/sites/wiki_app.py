"""Atlas Wiki: articles with infoboxes, categories, search, editing with history, new pages; the editor is alex."""

import re
from datetime import date

from flask import abort, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from common import create_site, db
from wiki_data import CURRENT_USER

LINK = re.compile(r"\[\[([a-z0-9-]+)\|([^\]]+)\]\]")
TODAY = date(2024, 3, 12).isoformat()


def render_content(text: str) -> Markup:
    """Paragraphs from blank-line-separated text, ``[[slug|text]]`` as links; everything else escaped."""
    def paragraph(chunk: str) -> str:
        html, last = [], 0
        for match in LINK.finditer(chunk):
            html += [str(escape(chunk[last:match.start()])),
                     f'<a href="/wiki/{match[1]}">{escape(match[2])}</a>']
            last = match.end()
        html.append(str(escape(chunk[last:])))
        return "<p>" + "".join(html) + "</p>"
    return Markup("\n".join(paragraph(c.strip()) for c in re.split(r"\n\s*\n", text) if c.strip()))


def current(slug: str):
    row = db().execute("SELECT p.*, r.content, r.created AS updated, r.author AS updated_by FROM pages p "
                       "JOIN revisions r ON r.slug = p.slug WHERE p.slug = ? ORDER BY r.id DESC LIMIT 1",
                       (slug,)).fetchone()
    if row is None:
        abort(404)
    return row


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def create_app(db_path: str):
    app = create_site("wiki", "Atlas Wiki", db_path)

    @app.context_processor
    def wiki_globals():
        return {"me": CURRENT_USER, "categories": db().execute("SELECT * FROM categories ORDER BY rowid").fetchall()}

    @app.get("/")
    def home():
        pages = db().execute("SELECT * FROM pages ORDER BY title").fetchall()
        return render_template("home.html", pages=pages)

    @app.get("/wiki/<slug>")
    def page(slug):
        facts = db().execute("SELECT * FROM facts WHERE slug = ? ORDER BY position", (slug,)).fetchall()
        row = current(slug)
        return render_template("page.html", page=row, facts=facts, content=render_content(row["content"]),
                               notice=request.args.get("notice"))

    @app.route("/wiki/<slug>/edit", methods=["GET", "POST"])
    def edit(slug):
        row = current(slug)
        if request.method == "POST":
            content = request.form.get("content", "").strip()
            summary = request.form.get("summary", "").strip()
            if not content or not summary:
                return render_template("edit.html", page=row, content=content or row["content"], summary=summary,
                                       error="Write the page content and an edit summary.")
            if content != row["content"]:
                db().execute("INSERT INTO revisions (slug, author, summary, created, content) VALUES (?, ?, ?, ?, ?)",
                             (slug, CURRENT_USER, summary, TODAY, content))
                db().commit()
            return redirect(url_for("page", slug=slug, notice="Your changes were saved."))
        return render_template("edit.html", page=row, content=row["content"], summary="")

    @app.get("/wiki/<slug>/history")
    def history(slug):
        row = current(slug)
        revisions = db().execute("SELECT * FROM revisions WHERE slug = ? ORDER BY id DESC", (slug,)).fetchall()
        return render_template("history.html", page=row, revisions=revisions)

    @app.get("/category/<name>")
    def category(name):
        row = db().execute("SELECT * FROM categories WHERE name = ?", (name,)).fetchone()
        if row is None:
            abort(404)
        pages = db().execute("SELECT * FROM pages WHERE category = ? ORDER BY title", (name,)).fetchall()
        return render_template("category.html", category=row, pages=pages)

    @app.route("/new", methods=["GET", "POST"])
    def new():
        form = {k: request.form.get(k, "").strip() for k in ("title", "category", "content")}
        if request.method == "POST":
            slug = slugify(form["title"])
            known = db().execute("SELECT 1 FROM categories WHERE name = ?", (form["category"],)).fetchone()
            taken = db().execute("SELECT 1 FROM pages WHERE slug = ? OR title = ?", (slug, form["title"])).fetchone()
            if taken:
                return render_template("new.html", form=form, error="A page with that title already exists.")
            if not (slug and known and form["content"]):
                return render_template("new.html", form=form, error="Give the page a title, category and content.")
            db().execute("INSERT INTO pages VALUES (?, ?, ?)", (slug, form["title"], form["category"]))
            db().execute("INSERT INTO revisions (slug, author, summary, created, content) VALUES (?, ?, ?, ?, ?)",
                         (slug, CURRENT_USER, "New article", TODAY, form["content"]))
            db().commit()
            return redirect(url_for("page", slug=slug, notice="The page was created."))
        return render_template("new.html", form=form)

    @app.get("/search")
    def search():
        query = request.args.get("q", "").strip()
        found = []
        if query:
            found = db().execute(
                "SELECT p.* FROM pages p JOIN revisions r ON r.slug = p.slug AND r.id = "
                "(SELECT MAX(id) FROM revisions WHERE slug = p.slug) "
                "WHERE p.title LIKE :q OR r.content LIKE :q ORDER BY p.title", {"q": f"%{query}%"}).fetchall()
        return render_template("search.html", query=query, pages=found)

    @app.get("/recent")
    def recent():
        revisions = db().execute("SELECT r.*, p.title FROM revisions r JOIN pages p ON p.slug = r.slug "
                                 "ORDER BY r.created DESC, r.id DESC LIMIT 20").fetchall()
        return render_template("recent.html", revisions=revisions)

    return app
