"""Harbor Goods, the shop: schema and seed rows (plain sqlite3, no Flask, so the host can import it too)."""

SCHEMA = """
CREATE TABLE categories (slug TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE products (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, category TEXT NOT NULL REFERENCES categories(slug),
    price_cents INTEGER NOT NULL, stock INTEGER NOT NULL, brand TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL REFERENCES products(id), author TEXT NOT NULL,
    stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5), body TEXT NOT NULL);
CREATE TABLE customer (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, email TEXT NOT NULL,
    street TEXT NOT NULL, city TEXT NOT NULL, zip TEXT NOT NULL);
CREATE TABLE cart_items (product_id INTEGER PRIMARY KEY REFERENCES products(id), quantity INTEGER NOT NULL);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, placed_on TEXT NOT NULL, status TEXT NOT NULL, shipping TEXT NOT NULL,
    ship_name TEXT NOT NULL, ship_street TEXT NOT NULL, ship_city TEXT NOT NULL, ship_zip TEXT NOT NULL);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL, price_cents INTEGER NOT NULL, PRIMARY KEY (order_id, product_id));
"""

SHIPPING = {"standard": ("Standard (5-7 days)", 500), "express": ("Express (1-2 days)", 1500)}

CATEGORIES = [
    ("laptops", "Laptops"), ("phones", "Phones"), ("audio", "Audio"), ("kitchen", "Kitchen"),
    ("books", "Books"), ("outdoor", "Outdoor"),
]

# id, name, category, price in cents, stock, brand, description
PRODUCTS = [
    (1, "Aurora 14 Laptop", "laptops", 89900, 12, "Lumen", "A light 14-inch laptop with 16 GB of memory and a 512 GB SSD."),
    (2, "Aurora 16 Pro Laptop", "laptops", 149900, 4, "Lumen", "A 16-inch workstation laptop with 32 GB of memory."),
    (3, "Basalt 13 Chromebook", "laptops", 34900, 25, "Basalt", "A rugged 13-inch Chromebook for school."),
    (4, "Vireo X1 Carbon", "laptops", 129900, 7, "Vireo", "A carbon-fibre ultrabook that weighs 1.1 kg."),
    (5, "Quill Mini Tablet", "laptops", 27900, 0, "Quill", "An 8-inch tablet with a stylus. Currently sold out."),
    (6, "Pulse 8 Phone", "phones", 69900, 30, "Pulse", "A 6.1-inch phone with a 50 MP camera."),
    (7, "Pulse 8 Max Phone", "phones", 99900, 9, "Pulse", "A 6.7-inch phone with a 5000 mAh battery."),
    (8, "Orbit Flip Phone", "phones", 19900, 14, "Orbit", "A folding phone with two days of battery life."),
    (9, "Tern Rugged Phone", "phones", 44900, 6, "Tern", "A waterproof, drop-proof phone for outdoor work."),
    (10, "Pulse Charger 65W", "phones", 3900, 80, "Pulse", "A USB-C charger with two ports."),
    (11, "Cadence Over-Ear Headphones", "audio", 24900, 18, "Cadence", "Noise-cancelling headphones, 30 hours of play."),
    (12, "Cadence Buds", "audio", 12900, 40, "Cadence", "Wireless earbuds with a charging case."),
    (13, "Boomline Party Speaker", "audio", 17900, 8, "Boomline", "A loud portable speaker with lights."),
    (14, "Reed Studio Monitor", "audio", 21900, 5, "Reed", "A studio monitor speaker, sold as a single unit."),
    (15, "Pocket FM Radio", "audio", 2900, 22, "Reed", "A battery-powered FM radio."),
    (16, "Copperline Kettle", "kitchen", 5900, 35, "Copperline", "A 1.7 litre electric kettle with a copper finish."),
    (17, "Copperline Toaster", "kitchen", 6900, 11, "Copperline", "A four-slice toaster with a bagel setting."),
    (18, "Granite Chef Knife", "kitchen", 8900, 16, "Granite", "A 20 cm chef's knife of folded steel."),
    (19, "Harvest Stand Mixer", "kitchen", 32900, 3, "Harvest", "A 5 litre stand mixer with three attachments."),
    (20, "Harvest Cast Iron Pan", "kitchen", 4500, 27, "Harvest", "A 28 cm pre-seasoned cast iron pan."),
    (21, "The Quiet Harbor", "books", 1800, 50, "Tidewater Press", "A novel about a lighthouse keeper's daughter."),
    (22, "Practical Sourdough", "books", 2600, 19, "Crumb Books", "Recipes and methods for home bakers."),
    (23, "Atlas of Small Islands", "books", 3400, 12, "Tidewater Press", "Maps and stories of fifty remote islands."),
    (24, "Learning Python the Calm Way", "books", 3900, 21, "Crumb Books", "An introduction to programming."),
    (25, "Ridge 2-Person Tent", "outdoor", 18900, 10, "Ridge", "A three-season tent that weighs 2.1 kg."),
    (26, "Ridge Sleeping Bag", "outdoor", 11900, 13, "Ridge", "A sleeping bag rated to -5 degrees Celsius."),
    (27, "Trailhead Water Filter", "outdoor", 3500, 45, "Trailhead", "A squeeze filter for 1,000 litres of water."),
    (28, "Trailhead Headlamp", "outdoor", 2400, 60, "Trailhead", "A 400 lumen rechargeable headlamp."),
    (29, "Summit Trekking Poles", "outdoor", 7900, 0, "Summit", "A pair of carbon trekking poles. Currently sold out."),
]

# product id, author, stars, body
REVIEWS = [
    (1, "Jordan P.", 5, "Fast and quiet. The battery lasts all day."),
    (1, "Sam R.", 4, "Great screen, the speakers are average."),
    (1, "Priya K.", 4, "Good value for the money."),
    (2, "Lee W.", 5, "Compiles our project twice as fast as my old machine."),
    (2, "Dana F.", 3, "Powerful but heavy, and the fan is loud."),
    (3, "Mateo G.", 4, "My son uses it every day for homework."),
    (4, "Ines B.", 5, "Incredibly light. Worth every cent."),
    (6, "Chris T.", 4, "Camera is excellent in daylight."),
    (6, "Ana L.", 2, "The battery drains quickly."),
    (7, "Ravi S.", 5, "Battery lasts two days."),
    (8, "Olga N.", 3, "Nostalgic, but typing messages is slow."),
    (9, "Bruno C.", 5, "Survived a fall from a ladder."),
    (11, "Mei H.", 5, "The noise cancelling is superb on flights."),
    (11, "Tom A.", 4, "Comfortable for hours."),
    (12, "Zoe D.", 1, "The left earbud stopped charging after a week."),
    (12, "Ken Y.", 4, "Small and clear sound."),
    (13, "Liam O.", 4, "Very loud, the lights are fun."),
    (16, "Hana M.", 5, "Boils water in two minutes and looks lovely."),
    (16, "Pete V.", 4, "Nice kettle, a bit loud."),
    (17, "Sara J.", 3, "Toasts unevenly on the left side."),
    (18, "Omar Z.", 5, "Holds its edge very well."),
    (19, "Julia E.", 5, "Kneads bread dough with ease."),
    (21, "Nora I.", 5, "I could not put it down."),
    (22, "Felix U.", 4, "My loaves finally have an open crumb."),
    (25, "Ivy Q.", 4, "Easy to pitch, stayed dry in a storm."),
    (27, "Gus X.", 5, "Light and reliable on a long hike."),
    (28, "Rosa T.", 3, "Bright, but the strap is uncomfortable."),
]

CUSTOMER = (1, "Alex Morgan", "alex.morgan@example.com", "12 Quay Street", "Port Kelwick", "40210")

CART = [(12, 1), (20, 2)]

# id, date, status, shipping, then items as (product id, quantity, unit price in cents)
ORDERS = [
    (1001, "2024-01-14", "Delivered", "standard", [(21, 1, 1800), (22, 1, 2600)]),
    (1002, "2024-02-03", "Delivered", "express", [(11, 1, 24900)]),
    (1003, "2024-03-22", "Shipped", "standard", [(16, 1, 5900), (18, 1, 8900), (20, 1, 4500)]),
    (1004, "2024-04-09", "Shipped", "express", [(6, 1, 69900), (10, 2, 3900)]),
    (1005, "2024-04-28", "Pending", "standard", [(25, 1, 18900), (27, 2, 3500)]),
    (1006, "2024-05-02", "Pending", "standard", [(3, 1, 34900)]),
]


def seed(conn) -> None:
    """Create the schema and insert the seed rows into an empty database."""
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO categories VALUES (?, ?)", CATEGORIES)
    conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)", PRODUCTS)
    conn.executemany("INSERT INTO reviews (product_id, author, stars, body) VALUES (?, ?, ?, ?)", REVIEWS)
    conn.execute("INSERT INTO customer VALUES (?, ?, ?, ?, ?, ?)", CUSTOMER)
    conn.executemany("INSERT INTO cart_items VALUES (?, ?)", CART)
    _, name, _, street, city, zip_code = CUSTOMER
    for order_id, placed_on, status, shipping, items in ORDERS:
        conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (order_id, placed_on, status, shipping, name, street, city, zip_code))
        conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?)",
                         [(order_id, product, quantity, price) for product, quantity, price in items])
