"""What the tests ported from Gymnasium's own suite share: our ids, their ``make_env``, and a control env.

The ``test_gymnasium_*.py`` modules are Gymnasium 1.4.0's generic env, vector and wrapper tests (its repository's
``tests/`` at the "Update to v1.4.0" commit 95a790e19; MIT License, Copyright (c) 2022 Farama Foundation) run
against selfgym's ids. Only the ids, counts of envs and steps, and what the Box/Discrete spaces of CartPole
become for text were changed; every change to an assertion says why beside it.

:class:`TextControlEnv` is the control: a text env made of Gymnasium parts only (its own ``Text`` spaces, no
sandbox), with the episode shape of ours. A ported test that fails on it too shows a limit of Gymnasium, not
of selfgym.
"""

from __future__ import annotations

import gymnasium as gym
from gymnasium.spaces import Text

CONTROL_ID = "selfgym-test/TextControl-v0"
CHEAP_ID = "selfgym/Math-v0"  # no sandbox unless a reply runs Python
SANDBOX_IDS = ["selfgym/Code-v0", "selfgym/Shell-v0"]
SELFGYM_IDS = [CHEAP_ID, *SANDBOX_IDS]


class TextControlEnv(gym.Env[str, str]):
    """Guess a 4-letter word drawn with the seed; ``max_steps`` guesses, reward 1 for the right one."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, max_steps: int = 4, render_mode: str | None = None) -> None:
        self.observation_space = Text(max_length=64)  # Gymnasium's default charset: letters and digits
        self.action_space = Text(max_length=64)
        self.max_steps = max_steps
        self.render_mode = render_mode
        self.word = ""
        self.steps = 0
        self.transcript: list[str] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self.word = "".join(self.np_random.choice(list("abcd"), 4))
        self.steps = 0
        self.transcript = [f"guess{len(self.word)}letters"]
        return self.transcript[0], {"step": 0}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        self.steps += 1
        right = action == self.word
        observation = "right" if right else f"wrong{self.steps}"
        self.transcript += [action, observation]
        truncated = not right and self.steps >= self.max_steps
        return observation, float(right), right, truncated, {"step": self.steps}

    def render(self) -> str | None:
        return "\n".join(self.transcript) if self.render_mode == "ansi" else None


def register_ids() -> None:
    """Register selfgym's ids and the control's (also in a spawned worker, which imports nothing by itself)."""
    import selfgym  # noqa: F401

    if CONTROL_ID not in gym.registry:
        gym.register(CONTROL_ID, entry_point=TextControlEnv, disable_env_checker=True)


register_ids()


def make_env(env_name: str, seed: int, **kwargs):
    """Gymnasium's ``tests.vector.testing_utils.make_env``; it also registers the ids in a spawned worker."""

    def _make():
        register_ids()
        env = gym.make(env_name, disable_env_checker=True, **kwargs)
        env.action_space.seed(seed)
        env.reset(seed=seed)
        return env

    return _make
