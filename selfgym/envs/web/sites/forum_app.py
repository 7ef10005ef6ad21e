"""Threadline: a forum with sub-forums, posts, votes, comments, user pages; the visitor is logged in as alex."""

from datetime import date

from flask import abort, redirect, render_template, request, url_for

from common import create_site, db
from forum_data import CURRENT_USER

POST_QUERY = """
    SELECT p.*, f.name AS forum_name,
           p.base_score + COALESCE((SELECT SUM(value) FROM votes v WHERE v.post_id = p.id), 0) AS score,
           (SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id) AS comment_count,
           (SELECT value FROM votes v WHERE v.post_id = p.id AND v.user = :me) AS my_vote
    FROM posts p JOIN forums f ON f.slug = p.forum {where} ORDER BY {order}
"""
SORTS = {"top": ("Top", "score DESC, p.id"), "new": ("Newest", "p.created DESC, p.id DESC")}
TODAY = date(2024, 3, 12).isoformat()


def posts(where: str = "", params: dict | None = None, order: str = "score DESC, p.id") -> list:
    return db().execute(POST_QUERY.format(where=where, order=order), {"me": CURRENT_USER, **(params or {})}).fetchall()


def one_post(post_id: int):
    found = posts("WHERE p.id = :id", {"id": post_id})
    if not found:
        abort(404)
    return found[0]


def create_app(db_path: str):
    app = create_site("forum", "Threadline", db_path)

    @app.context_processor
    def forum_globals():
        return {"me": CURRENT_USER, "forums": db().execute("SELECT * FROM forums ORDER BY rowid").fetchall()}

    @app.get("/")
    def home():
        counts = dict(db().execute("SELECT forum, COUNT(*) FROM posts GROUP BY forum").fetchall())
        return render_template("home.html", counts=counts, posts=posts()[:10])

    @app.get("/f/<slug>")
    def forum(slug):
        row = db().execute("SELECT * FROM forums WHERE slug = ?", (slug,)).fetchone()
        if row is None:
            abort(404)
        sort = request.args.get("sort", "top")
        sort = sort if sort in SORTS else "top"
        return render_template("forum.html", forum=row, sort=sort, sorts=SORTS,
                               posts=posts("WHERE p.forum = :forum", {"forum": slug}, SORTS[sort][1]))

    @app.get("/p/<int:post_id>")
    def post(post_id):
        comments = db().execute("SELECT * FROM comments WHERE post_id = ? ORDER BY id", (post_id,)).fetchall()
        return render_template("post.html", post=one_post(post_id), comments=comments,
                               notice=request.args.get("notice"), error=request.args.get("error"))

    @app.post("/p/<int:post_id>/vote")
    def vote(post_id):
        one_post(post_id)
        value = {"up": 1, "down": -1}.get(request.form.get("direction", ""))
        if value is None:
            abort(400)
        db().execute("INSERT INTO votes VALUES (?, ?, ?) ON CONFLICT(post_id, user) DO UPDATE SET value = excluded.value",
                     (post_id, CURRENT_USER, value))
        db().commit()
        return redirect(url_for("post", post_id=post_id, notice="Your vote was recorded."))

    @app.post("/p/<int:post_id>/comment")
    def comment(post_id):
        one_post(post_id)
        body = request.form.get("body", "").strip()
        if not body:
            return redirect(url_for("post", post_id=post_id, error="A comment cannot be empty."))
        db().execute("INSERT INTO comments (post_id, author, body, created) VALUES (?, ?, ?, ?)",
                     (post_id, CURRENT_USER, body, TODAY))
        db().commit()
        return redirect(url_for("post", post_id=post_id, notice="Your comment was posted."))

    @app.route("/submit", methods=["GET", "POST"])
    def submit():
        form = {k: request.form.get(k, "").strip() for k in ("forum", "title", "body")}
        if request.method == "POST":
            known = db().execute("SELECT 1 FROM forums WHERE slug = ?", (form["forum"],)).fetchone()
            if known and form["title"] and form["body"]:
                cursor = db().execute("INSERT INTO posts (forum, author, title, body, created) VALUES (?, ?, ?, ?, ?)",
                                      (form["forum"], CURRENT_USER, form["title"], form["body"], TODAY))
                db().commit()
                return redirect(url_for("post", post_id=cursor.lastrowid, notice="Your post was created."))
            return render_template("submit.html", form=form, error="Choose a forum and fill in the title and text.")
        return render_template("submit.html", form={"forum": request.args.get("forum", "")})

    @app.route("/p/<int:post_id>/edit", methods=["GET", "POST"])
    def edit(post_id):
        row = one_post(post_id)
        if row["author"] != CURRENT_USER:
            abort(403)
        if request.method == "POST":
            title, body = request.form.get("title", "").strip(), request.form.get("body", "").strip()
            if title and body:
                db().execute("UPDATE posts SET title = ?, body = ? WHERE id = ?", (title, body, post_id))
                db().commit()
                return redirect(url_for("post", post_id=post_id, notice="Your post was updated."))
            return render_template("edit.html", post=row, error="The title and text cannot be empty.")
        return render_template("edit.html", post=row)

    @app.post("/p/<int:post_id>/delete")
    def delete(post_id):
        row = one_post(post_id)
        if row["author"] != CURRENT_USER:
            abort(403)
        db().execute("DELETE FROM posts WHERE id = ?", (post_id,))
        db().commit()
        return redirect(url_for("user", name=CURRENT_USER))

    @app.get("/u/<name>")
    def user(name):
        row = db().execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            abort(404)
        theirs = posts("WHERE p.author = :author", {"author": name}, "p.created DESC, p.id DESC")
        comment_count = db().execute("SELECT COUNT(*) FROM comments WHERE author = ?", (name,)).fetchone()[0]
        return render_template("user.html", user=row, posts=theirs, karma=sum(p["score"] for p in theirs),
                               comment_count=comment_count)

    @app.get("/search")
    def search():
        query = request.args.get("q", "").strip()
        found = posts("WHERE p.title LIKE :q OR p.body LIKE :q", {"q": f"%{query}%"}) if query else []
        return render_template("search.html", query=query, posts=found)

    return app
