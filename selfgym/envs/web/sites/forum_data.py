"""Threadline, the forum: schema and seed rows (plain sqlite3, no Flask)."""

CURRENT_USER = "alex"

SCHEMA = """
CREATE TABLE forums (slug TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE users (name TEXT PRIMARY KEY, joined TEXT NOT NULL, bio TEXT NOT NULL);
CREATE TABLE posts (
    id INTEGER PRIMARY KEY, forum TEXT NOT NULL REFERENCES forums(slug), author TEXT NOT NULL REFERENCES users(name),
    title TEXT NOT NULL, body TEXT NOT NULL, created TEXT NOT NULL, base_score INTEGER NOT NULL DEFAULT 0);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    author TEXT NOT NULL REFERENCES users(name), body TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE votes (
    post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE, user TEXT NOT NULL REFERENCES users(name),
    value INTEGER NOT NULL CHECK (value IN (-1, 1)), PRIMARY KEY (post_id, user));
"""

FORUMS = [
    ("gardening", "Gardening", "Vegetables, flowers and everything that grows."),
    ("cooking", "Cooking", "Recipes, techniques and kitchen questions."),
    ("cycling", "Cycling", "Commuting, touring and bike repair."),
    ("tech", "Tech Help", "Questions about computers, phones and software."),
    ("books", "Book Club", "What are you reading?"),
]

USERS = [
    ("alex", "2021-03-02", "Port Kelwick. Bakes bread, rides bikes."),
    ("mira", "2019-07-15", "Allotment gardener and seed saver."),
    ("jonas", "2020-01-09", "Bike mechanic by day."),
    ("priya", "2018-11-30", "Home cook, spice collector."),
    ("keiko", "2022-05-21", "Reads three books a week."),
    ("dmitri", "2017-02-14", "Sysadmin. Ask me about Linux."),
    ("lena", "2023-08-03", "New to gardening!"),
]

# id, forum, author, title, body, created, base score (votes from outside the seeded users)
POSTS = [
    (1, "gardening", "mira", "When to plant garlic?", "I usually plant garlic in October, two weeks before the first frost. Anyone plant in spring?", "2024-03-01", 41),
    (2, "gardening", "lena", "My tomato leaves are turning yellow", "The lower leaves on my tomato plants are yellow with brown spots. What is wrong?", "2024-03-04", 17),
    (3, "gardening", "alex", "Raised bed soil mix", "I am filling two raised beds. Is a 60/40 mix of topsoil and compost good enough?", "2024-03-06", 8),
    (4, "gardening", "mira", "Saving bean seeds for next year", "Let the pods dry on the plant until they rattle, then shell and store them in paper envelopes.", "2024-03-09", 29),
    (5, "cooking", "priya", "The best dal recipe I know", "Red lentils, turmeric, cumin seeds and a tarka of ghee and garlic. Full recipe inside.", "2024-02-20", 63),
    (6, "cooking", "alex", "Sourdough starter smells like nail polish", "My starter smells of acetone after three days on the counter. Is it ruined?", "2024-02-25", 12),
    (7, "cooking", "priya", "Cast iron pan seasoning", "Thin coats of flaxseed oil, one hour at 230 degrees, repeat six times.", "2024-03-02", 22),
    (8, "cooking", "keiko", "Quick weeknight noodles", "Soy sauce, sesame oil, chili crisp and whatever greens are in the fridge.", "2024-03-08", 15),
    (9, "cycling", "jonas", "How often should I replace my chain?", "Measure it with a chain checker: replace it at 0.5 percent stretch for 11-speed drivetrains.", "2024-01-28", 35),
    (10, "cycling", "alex", "Commuting in the rain", "What do you all wear for a 12 km commute in steady rain?", "2024-02-11", 19),
    (11, "cycling", "jonas", "Tubeless tyres: worth it?", "Fewer flats and lower pressures, but sealant needs topping up every few months.", "2024-02-19", 27),
    (12, "cycling", "dmitri", "Bike computer recommendations", "Looking for a GPS unit with turn-by-turn navigation under $200.", "2024-03-03", 6),
    (13, "tech", "dmitri", "Ubuntu will not boot after update", "After the latest kernel update I get a black screen. Booting the older kernel works.", "2024-02-01", 14),
    (14, "tech", "lena", "Which laptop for a student?", "Budget is around $400. Mostly writing and video calls.", "2024-02-15", 9),
    (15, "tech", "dmitri", "Back up your files: a simple plan", "Three copies, two kinds of storage, one copy off site. Here is how I automate it.", "2024-02-27", 52),
    (16, "tech", "keiko", "Phone battery drains overnight", "My phone loses 40 percent overnight even in airplane mode.", "2024-03-05", 4),
    (17, "books", "keiko", "The Quiet Harbor is wonderful", "Just finished it in one sitting. The ending made me cry.", "2024-02-05", 31),
    (18, "books", "alex", "Looking for books about islands", "I loved Atlas of Small Islands. What should I read next?", "2024-02-22", 7),
    (19, "books", "mira", "Gardening books for beginners", "My three favourites for people starting their first vegetable patch.", "2024-03-07", 11),
    (20, "books", "priya", "Cookbooks that taught me the most", "Practical Sourdough changed how I bake.", "2024-03-10", 18),
]

# post id, author, body, created
COMMENTS = [
    (1, "lena", "I planted in March last year and the bulbs were tiny.", "2024-03-01"),
    (1, "alex", "October here too. Mulch them well.", "2024-03-02"),
    (1, "jonas", "Spring garlic works if you can get seed cloves.", "2024-03-03"),
    (2, "mira", "Sounds like early blight. Remove the affected leaves and water at the base.", "2024-03-04"),
    (2, "priya", "Mulch helps keep soil from splashing onto the leaves.", "2024-03-05"),
    (3, "mira", "Add some grit for drainage and you are fine.", "2024-03-06"),
    (5, "keiko", "Made this tonight, it was delicious.", "2024-02-21"),
    (5, "alex", "Adding a spoon of tamarind is great too.", "2024-02-22"),
    (5, "dmitri", "Saved!", "2024-02-23"),
    (5, "lena", "Can I use yellow lentils?", "2024-02-24"),
    (6, "priya", "It is hungry. Feed it twice a day and the smell goes away.", "2024-02-25"),
    (6, "keiko", "Totally normal, it is not ruined.", "2024-02-26"),
    (7, "alex", "Flaxseed flaked off for me; I use vegetable shortening now.", "2024-03-03"),
    (9, "alex", "Mine was at 0.75, replaced it and the cassette too.", "2024-01-29"),
    (9, "dmitri", "Good tip, I never measured mine.", "2024-01-30"),
    (10, "jonas", "Full fenders and a proper rain jacket.", "2024-02-11"),
    (10, "lena", "Waterproof overshoes changed my life.", "2024-02-12"),
    (10, "mira", "I take the bus when it pours.", "2024-02-13"),
    (11, "alex", "Switched last year, two flats since then instead of ten.", "2024-02-20"),
    (13, "alex", "Try reinstalling the graphics driver for the new kernel.", "2024-02-02"),
    (13, "jonas", "Same thing happened to me.", "2024-02-03"),
    (14, "dmitri", "A Chromebook is plenty for writing.", "2024-02-15"),
    (14, "alex", "The Basalt 13 is sturdy and cheap.", "2024-02-16"),
    (15, "keiko", "Very clear, thank you.", "2024-02-28"),
    (17, "priya", "One of my favourites too.", "2024-02-06"),
    (17, "mira", "Adding it to my list.", "2024-02-07"),
    (18, "keiko", "Try The Lighthouse Stories.", "2024-02-23"),
    (20, "alex", "Agreed, that book is excellent.", "2024-03-11"),
]

# post id, user, value. Alex has already voted on some posts.
VOTES = [
    (1, "alex", 1), (5, "alex", 1), (9, "alex", 1), (13, "alex", -1),
    (1, "lena", 1), (2, "mira", 1), (3, "mira", 1), (5, "keiko", 1), (6, "priya", 1), (10, "jonas", 1),
    (12, "jonas", -1), (15, "keiko", 1), (16, "dmitri", -1), (17, "priya", 1), (18, "keiko", 1),
]


def seed(conn) -> None:
    """Create the schema and insert the seed rows into an empty database."""
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO forums VALUES (?, ?, ?)", FORUMS)
    conn.executemany("INSERT INTO users VALUES (?, ?, ?)", USERS)
    conn.executemany("INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?, ?)", POSTS)
    conn.executemany("INSERT INTO comments (post_id, author, body, created) VALUES (?, ?, ?, ?)", COMMENTS)
    conn.executemany("INSERT INTO votes VALUES (?, ?, ?)", VOTES)
