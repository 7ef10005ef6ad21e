"""Serve the sites inside the web sandbox: ``python3 serve.py DATA_DIR NAME:PORT ...``.

Each site is a Flask app on its own port of 127.0.0.1 (the container has no other interface), each with a threaded
WSGI server in one process. ``DATA_DIR/<name>.db`` is a site's database; the name ``miniwob`` serves the static
files of ``DATA_DIR/../miniwob`` instead. Request logging is off: the container's disk is a small tmpfs.
"""

import logging
import os
import sys
import threading

from flask import Flask
from werkzeug.serving import make_server

import forum_app
import shop_app
import wiki_app

APPS = {"shop": shop_app.create_app, "forum": forum_app.create_app, "wiki": wiki_app.create_app}


def static_site(root: str) -> Flask:
    return Flask("selfgym_miniwob", static_folder=os.path.abspath(root), static_url_path="")


def main(data_dir: str, sites: list[str]) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    servers = []
    for spec in sites:
        name, port = spec.split(":")
        if name == "miniwob":
            app = static_site(os.path.join(data_dir, "..", "miniwob"))
        else:
            app = APPS[name](os.path.join(data_dir, f"{name}.db"))
        servers.append(make_server("127.0.0.1", int(port), app, threaded=True))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    print("serving " + " ".join(sites), flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
