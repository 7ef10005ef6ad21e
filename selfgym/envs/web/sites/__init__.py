"""The self-hosted sites of ``selfgym/Web-v0``, as they run inside the web sandbox.

These files are copied into the container when it starts (see :mod:`selfgym.envs.web.container`) and run there
with the image's Python and Flask (``serve.py``); they import each other as top-level modules. The ``*_data``
modules (schema and seed rows, plain :mod:`sqlite3`) are also imported on the host, which builds the pristine
databases from them.
"""
