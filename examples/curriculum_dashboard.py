"""The curriculum dashboard of a simulated training: Math-v0's tasks, the self-evolving curriculum as
``selfgym env-server --curriculum self_evolving`` runs it (a store, a service), and a learner whose skill grows
per family at its own pace (success probability ``sigmoid((episode - onset) / 40)``); the page rendered and
photographed in headless Chromium.

    .venv/bin/python examples/curriculum_dashboard.py [--episodes 300] [--out docs/img/curriculum_dashboard.png]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np

import selfgym  # noqa: F401
from selfgym.curricula.dashboard import render_dashboard
from selfgym.curricula.service import open_service

ONSET = {"basic_arithmetic": 0, "chain_sum": 80, "products": 150, "gcd": 220, "lcm": 300, "simple_equations": 400}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--out", default="docs/img/curriculum_dashboard.png")
    args = parser.parse_args()
    env = gym.make("selfgym/Math-v0")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        service = open_service(list(env.unwrapped.source), "self_evolving", str(Path(folder) / "c.db"),
                               run="Math-v0-self_evolving", model="simulated", server="example")
        service.curriculum.phase_length = 25
        for episode in range(args.episodes):
            task = service.choose()
            p = 1 / (1 + math.exp(-(episode - ONSET.get(task.family, 0)) / 40))
            service.finished(f"e{episode}", task, float(rng.random() < p))
        page_path = Path(folder) / "dashboard.html"
        page_path.write_text(render_dashboard(service.store, service.run))
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 820})
            page.goto(page_path.as_uri())
            page.screenshot(path=args.out, full_page=False)
            browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
