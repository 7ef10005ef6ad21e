"""Atlas Wiki, about the (fictional) Ardle Valley: schema and seed rows (plain sqlite3, no Flask).

Article text links to other articles with ``[[slug|text]]``.
"""

CURRENT_USER = "alex"

SCHEMA = """
CREATE TABLE categories (name TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE pages (slug TEXT PRIMARY KEY, title TEXT NOT NULL UNIQUE, category TEXT NOT NULL REFERENCES categories(name));
CREATE TABLE facts (slug TEXT NOT NULL REFERENCES pages(slug), position INTEGER NOT NULL, label TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (slug, position));
CREATE TABLE revisions (id INTEGER PRIMARY KEY, slug TEXT NOT NULL REFERENCES pages(slug), author TEXT NOT NULL,
    summary TEXT NOT NULL, created TEXT NOT NULL, content TEXT NOT NULL);
"""

CATEGORIES = [
    ("Towns", "Towns and villages of the Ardle Valley."),
    ("Rivers", "Rivers and lakes."),
    ("People", "People from the valley's history."),
    ("Landmarks", "Buildings, bridges and hills."),
    ("Events", "Festivals and historical events."),
]

# slug, title, category, infobox facts, revisions as (author, summary, date, content); the last one is current
PAGES = [
    ("port-kelwick", "Port Kelwick", "Towns",
     [("Population", "48,210"), ("Founded", "1732"), ("Founder", "Edda Kelwick"), ("River", "Ardle"),
      ("Mayor", "Tomas Rhee"), ("Twin town", "Vellmar")],
     [("Historian42", "New article", "2023-05-01",
       "Port Kelwick is a harbour town at the mouth of the [[ardle-river|River Ardle]]."),
      ("ArdleFan", "Expanded history", "2023-09-14",
       "Port Kelwick is a harbour town at the mouth of the [[ardle-river|River Ardle]]. It was founded in 1732 by the "
       "shipwright [[edda-kelwick|Edda Kelwick]].\n\nThe town grew around its shipyards and the "
       "[[kelwick-lighthouse|Kelwick Lighthouse]]. Today its main industries are fishing, tourism and software. "
       "Every August it hosts the [[harbour-festival|Kelwick Harbour Festival]].")]),
    ("vellmar", "Vellmar", "Towns",
     [("Population", "12,904"), ("Founded", "1610"), ("River", "Sunn"), ("Known for", "Glassmaking")],
     [("mkelwick", "New article", "2023-06-02",
       "Vellmar is a market town on the [[sunn-river|River Sunn]], known for the "
       "[[vellmar-glassworks|Vellmar Glassworks]]. It is twinned with [[port-kelwick|Port Kelwick]].")]),
    ("ardle-river", "River Ardle", "Rivers",
     [("Length", "184 km"), ("Source", "Greyfell Hills"), ("Mouth", "Port Kelwick"), ("Tributaries", "Sunn, Mirebrook")],
     [("Historian42", "New article", "2023-05-03",
       "The River Ardle rises in the [[greyfell-hills|Greyfell Hills]] and flows 184 km to the sea at "
       "[[port-kelwick|Port Kelwick]]. Its largest tributary, the [[sunn-river|River Sunn]], joins it at "
       "[[tallow-bridge|Tallow Bridge]].\n\nThe river burst its banks in the [[great-flood-1894|Great Flood of 1894]].")]),
    ("sunn-river", "River Sunn", "Rivers",
     [("Length", "61 km"), ("Source", "Lake Orra"), ("Joins", "River Ardle at Tallow Bridge")],
     [("ArdleFan", "New article", "2023-07-11",
       "The River Sunn flows 61 km from [[lake-orra|Lake Orra]] through [[vellmar|Vellmar]] and joins the "
       "[[ardle-river|River Ardle]] at [[tallow-bridge|Tallow Bridge]].")]),
    ("lake-orra", "Lake Orra", "Rivers",
     [("Area", "14 km²"), ("Maximum depth", "68 m"), ("Outflow", "River Sunn")],
     [("mkelwick", "New article", "2023-08-20",
       "Lake Orra is a glacial lake of 14 square kilometres, the source of the [[sunn-river|River Sunn]]. It is "
       "popular with swimmers in summer.")]),
    ("edda-kelwick", "Edda Kelwick", "People",
     [("Born", "1701"), ("Died", "1779"), ("Occupation", "Shipwright"), ("Known for", "Founding Port Kelwick")],
     [("Historian42", "New article", "2023-05-04",
       "Edda Kelwick (1701-1779) was a shipwright who founded [[port-kelwick|Port Kelwick]] in 1732. Her yard "
       "built over two hundred fishing boats."),
      ("mkelwick", "Fixed dates", "2023-10-02",
       "Edda Kelwick (1701-1779) was a shipwright who founded [[port-kelwick|Port Kelwick]] in 1732. Her yard "
       "built over two hundred fishing boats. She is buried beside the harbour.")]),
    ("tomas-rhee", "Tomas Rhee", "People",
     [("Born", "1968"), ("Office", "Mayor of Port Kelwick"), ("In office since", "2019"), ("Party", "Harbour Alliance")],
     [("ArdleFan", "New article", "2023-09-15",
       "Tomas Rhee (born 1968) has been the mayor of [[port-kelwick|Port Kelwick]] since 2019. Before politics he "
       "was a ferry captain.")]),
    ("greyfell-hills", "Greyfell Hills", "Landmarks",
     [("Highest point", "Carn Dubh, 912 m"), ("Area", "320 km²")],
     [("Historian42", "New article", "2023-05-05",
       "The Greyfell Hills are an upland area where the [[ardle-river|River Ardle]] rises. The highest point is "
       "Carn Dubh, at 912 metres.")]),
    ("kelwick-lighthouse", "Kelwick Lighthouse", "Landmarks",
     [("Built", "1804"), ("Height", "31 m"), ("Automated", "1981"), ("Range", "22 nautical miles")],
     [("ArdleFan", "New article", "2023-06-30",
       "Kelwick Lighthouse stands on the north pier of [[port-kelwick|Port Kelwick]]. It was built in 1804 and "
       "automated in 1981. The tower is 31 metres tall.")]),
    ("tallow-bridge", "Tallow Bridge", "Landmarks",
     [("Built", "1788"), ("Material", "Stone"), ("Arches", "5"), ("Crosses", "River Ardle")],
     [("mkelwick", "New article", "2023-07-19",
       "Tallow Bridge is a five-arch stone bridge over the [[ardle-river|River Ardle]], built in 1788 where the "
       "[[sunn-river|River Sunn]] joins it.")]),
    ("vellmar-glassworks", "Vellmar Glassworks", "Landmarks",
     [("Founded", "1702"), ("Closed", "1966"), ("Workers at peak", "640")],
     [("Historian42", "New article", "2023-08-01",
       "The Vellmar Glassworks made bottles and window glass in [[vellmar|Vellmar]] from 1702 until 1966. The "
       "building is now a museum.")]),
    ("great-flood-1894", "Great Flood of 1894", "Events",
     [("Date", "11 November 1894"), ("Deaths", "37"), ("Area", "Lower Ardle Valley")],
     [("Historian42", "New article", "2023-05-20",
       "The Great Flood of 1894 struck the lower [[ardle-river|Ardle]] valley on 11 November 1894 after a week of "
       "storms. Thirty-seven people died and [[tallow-bridge|Tallow Bridge]] lost one arch.")]),
    ("harbour-festival", "Kelwick Harbour Festival", "Events",
     [("Held", "Every August"), ("First held", "1952"), ("Visitors", "About 90,000")],
     [("ArdleFan", "New article", "2023-08-25",
       "The Kelwick Harbour Festival is held every August in [[port-kelwick|Port Kelwick]] since 1952, with boat "
       "races, music and a fish market.")]),
    ("ardle-valley-railway", "Ardle Valley Railway", "Events",
     [("Opened", "1871"), ("Closed", "1963"), ("Length", "42 km")],
     [("mkelwick", "New article", "2023-09-01",
       "The Ardle Valley Railway ran 42 km from [[port-kelwick|Port Kelwick]] to [[vellmar|Vellmar]] between 1871 "
       "and 1963. Part of the line is now a cycle path.")]),
]


def seed(conn) -> None:
    """Create the schema and insert the seed rows into an empty database."""
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO categories VALUES (?, ?)", CATEGORIES)
    for slug, title, category, facts, revisions in PAGES:
        conn.execute("INSERT INTO pages VALUES (?, ?, ?)", (slug, title, category))
        conn.executemany("INSERT INTO facts VALUES (?, ?, ?, ?)",
                         [(slug, position, label, value) for position, (label, value) in enumerate(facts)])
        conn.executemany("INSERT INTO revisions (slug, author, summary, created, content) VALUES (?, ?, ?, ?, ?)",
                         [(slug, *revision) for revision in revisions])
