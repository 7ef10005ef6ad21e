"""Harbor Goods: a shop with categories, search, product pages and reviews, a cart, checkout, orders, an account."""

from datetime import date

from flask import abort, redirect, render_template, request, url_for

from common import create_site, db
from shop_data import SHIPPING

SORTS = {
    "featured": ("Featured", "p.id"),
    "price_asc": ("Price: low to high", "p.price_cents, p.id"),
    "price_desc": ("Price: high to low", "p.price_cents DESC, p.id"),
    "rating": ("Customer rating", "rating DESC, p.id"),
}
PRODUCT_QUERY = """
    SELECT p.*, c.name AS category_name, ROUND(AVG(r.stars), 1) AS rating, COUNT(r.id) AS review_count
    FROM products p JOIN categories c ON c.slug = p.category LEFT JOIN reviews r ON r.product_id = p.id
    {where} GROUP BY p.id ORDER BY {order}
"""


def products(where: str = "", params: tuple = (), order: str = "p.id") -> list:
    return db().execute(PRODUCT_QUERY.format(where=where, order=order), params).fetchall()


def order_total(order_id: int) -> int:
    items = db().execute("SELECT COALESCE(SUM(quantity * price_cents), 0) FROM order_items WHERE order_id = ?",
                         (order_id,)).fetchone()[0]
    shipping = db().execute("SELECT shipping FROM orders WHERE id = ?", (order_id,)).fetchone()[0]
    return items + SHIPPING[shipping][1]


def create_app(db_path: str):
    app = create_site("shop", "Harbor Goods", db_path)

    @app.context_processor
    def shop_globals():
        count = db().execute("SELECT COALESCE(SUM(quantity), 0) FROM cart_items").fetchone()[0]
        categories = db().execute("SELECT * FROM categories ORDER BY rowid").fetchall()
        return {"cart_count": count, "categories": categories}

    @app.get("/")
    def home():
        return render_template("home.html", products=products(order="rating DESC, p.id")[:8])

    @app.get("/category/<slug>")
    def category(slug):
        row = db().execute("SELECT * FROM categories WHERE slug = ?", (slug,)).fetchone()
        if row is None:
            abort(404)
        sort = request.args.get("sort", "featured")
        if sort not in SORTS:
            sort = "featured"
        return render_template("category.html", category=row, sort=sort, sorts=SORTS,
                               products=products("WHERE p.category = ?", (slug,), SORTS[sort][1]))

    @app.get("/search")
    def search():
        query = request.args.get("q", "").strip()
        found = products("WHERE p.name LIKE ? OR p.brand LIKE ? OR p.description LIKE ?",
                         (f"%{query}%",) * 3) if query else []
        return render_template("search.html", query=query, products=found)

    @app.get("/product/<int:product_id>")
    def product(product_id):
        found = products("WHERE p.id = ?", (product_id,))
        if not found:
            abort(404)
        reviews = db().execute("SELECT * FROM reviews WHERE product_id = ? ORDER BY id", (product_id,)).fetchall()
        return render_template("product.html", product=found[0], reviews=reviews,
                               error=request.args.get("error"), notice=request.args.get("notice"))

    @app.post("/product/<int:product_id>/review")
    def add_review(product_id):
        stars = request.form.get("stars", type=int)
        body = request.form.get("body", "").strip()
        if stars not in range(1, 6) or not body:
            return redirect(url_for("product", product_id=product_id, error="Choose a rating and write a review."))
        name = db().execute("SELECT name FROM customer").fetchone()[0]
        db().execute("INSERT INTO reviews (product_id, author, stars, body) VALUES (?, ?, ?, ?)",
                     (product_id, name, stars, body))
        db().commit()
        return redirect(url_for("product", product_id=product_id, notice="Thank you for your review."))

    @app.post("/cart/add")
    def cart_add():
        product_id = request.form.get("product_id", type=int)
        quantity = request.form.get("quantity", 1, type=int) or 0
        row = db().execute("SELECT stock FROM products WHERE id = ?", (product_id,)).fetchone()
        if row is None:
            abort(404)
        in_cart = db().execute("SELECT COALESCE(SUM(quantity), 0) FROM cart_items WHERE product_id = ?",
                               (product_id,)).fetchone()[0]
        if quantity < 1 or in_cart + quantity > row["stock"]:
            return redirect(url_for("product", product_id=product_id,
                                    error=f"Only {row['stock']} in stock; you can add 1 to {row['stock'] - in_cart}."))
        db().execute("INSERT INTO cart_items VALUES (?, ?) ON CONFLICT(product_id) DO UPDATE SET "
                     "quantity = quantity + excluded.quantity", (product_id, quantity))
        db().commit()
        return redirect(url_for("cart", notice="Added to your cart."))

    @app.get("/cart")
    def cart():
        items = db().execute("SELECT p.*, c.quantity FROM cart_items c JOIN products p ON p.id = c.product_id "
                             "ORDER BY p.name").fetchall()
        subtotal = sum(item["quantity"] * item["price_cents"] for item in items)
        return render_template("cart.html", items=items, subtotal=subtotal, notice=request.args.get("notice"),
                               error=request.args.get("error"))

    @app.post("/cart/update")
    def cart_update():
        product_id = request.form.get("product_id", type=int)
        quantity = request.form.get("quantity", type=int)
        stock = db().execute("SELECT stock FROM products WHERE id = ?", (product_id,)).fetchone()
        if stock is None or quantity is None or quantity < 0 or quantity > stock[0]:
            return redirect(url_for("cart", error="Enter a quantity between 0 and the number in stock."))
        if quantity == 0:
            db().execute("DELETE FROM cart_items WHERE product_id = ?", (product_id,))
        else:
            db().execute("UPDATE cart_items SET quantity = ? WHERE product_id = ?", (quantity, product_id))
        db().commit()
        return redirect(url_for("cart", notice="Cart updated."))

    @app.post("/cart/remove")
    def cart_remove():
        db().execute("DELETE FROM cart_items WHERE product_id = ?", (request.form.get("product_id", type=int),))
        db().commit()
        return redirect(url_for("cart", notice="Item removed."))

    @app.route("/checkout", methods=["GET", "POST"])
    def checkout():
        customer = db().execute("SELECT * FROM customer").fetchone()
        items = db().execute("SELECT p.*, c.quantity FROM cart_items c JOIN products p ON p.id = c.product_id "
                             "ORDER BY p.name").fetchall()
        if request.method == "GET":
            return render_template("checkout.html", customer=customer, items=items, shipping=SHIPPING,
                                   subtotal=sum(i["quantity"] * i["price_cents"] for i in items))
        form = {k: request.form.get(k, "").strip() for k in ("name", "street", "city", "zip", "shipping")}
        if not items or not all(form.values()) or form["shipping"] not in SHIPPING:
            return render_template("checkout.html", customer=customer, items=items, shipping=SHIPPING, form=form,
                                   subtotal=sum(i["quantity"] * i["price_cents"] for i in items),
                                   error="Fill in every field and choose a shipping method.")
        cursor = db().execute(
            "INSERT INTO orders (placed_on, status, shipping, ship_name, ship_street, ship_city, ship_zip) "
            "VALUES (?, 'Pending', ?, ?, ?, ?, ?)",
            (date(2024, 5, 20).isoformat(), form["shipping"], form["name"], form["street"], form["city"], form["zip"]))
        db().executemany("INSERT INTO order_items VALUES (?, ?, ?, ?)",
                         [(cursor.lastrowid, i["id"], i["quantity"], i["price_cents"]) for i in items])
        db().execute("DELETE FROM cart_items")
        db().commit()
        return redirect(url_for("order", order_id=cursor.lastrowid, notice="Thank you! Your order has been placed."))

    @app.get("/orders")
    def orders():
        rows = db().execute("SELECT * FROM orders ORDER BY id DESC").fetchall()
        return render_template("orders.html", orders=[(row, order_total(row["id"])) for row in rows])

    @app.get("/orders/<int:order_id>")
    def order(order_id):
        row = db().execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None:
            abort(404)
        items = db().execute("SELECT p.name, p.id, i.quantity, i.price_cents FROM order_items i "
                             "JOIN products p ON p.id = i.product_id WHERE i.order_id = ? ORDER BY p.name",
                             (order_id,)).fetchall()
        return render_template("order.html", order=row, items=items, total=order_total(order_id),
                               shipping=SHIPPING[row["shipping"]], notice=request.args.get("notice"))

    @app.post("/orders/<int:order_id>/cancel")
    def cancel_order(order_id):
        db().execute("UPDATE orders SET status = 'Cancelled' WHERE id = ? AND status = 'Pending'", (order_id,))
        db().commit()
        return redirect(url_for("order", order_id=order_id, notice="The order was cancelled."))

    @app.route("/account", methods=["GET", "POST"])
    def account():
        notice = None
        if request.method == "POST":
            form = {k: request.form.get(k, "").strip() for k in ("name", "email", "street", "city", "zip")}
            if all(form.values()) and "@" in form["email"]:
                db().execute("UPDATE customer SET name = :name, email = :email, street = :street, city = :city, "
                             "zip = :zip", form)
                db().commit()
                notice = "Your details were saved."
            else:
                notice = "Fill in every field with a valid email address."
        return render_template("account.html", customer=db().execute("SELECT * FROM customer").fetchone(),
                               notice=notice)

    return app
