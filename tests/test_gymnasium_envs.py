"""Gymnasium 1.4.0's generic env tests on selfgym's ids (see ``gymnasium_port.py`` for where they come from).

Ported: ``tests/envs/test_envs.py`` (the env checker, the passive checker, determinism rollouts, pickling),
and ``check_environments_match`` (``gymnasium.utils.env_match``, which Gymnasium's MuJoCo tests use to compare
two envs step by step). Gymnasium parametrises them over its registry; here over selfgym's ids and the Text
control.
"""

from __future__ import annotations

import pickle
import re
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium_port import CONTROL_ID, SANDBOX_IDS, SELFGYM_IDS

from selfgym.sandbox import SandboxPool

pytestmark = pytest.mark.docker
WEB_ID = "selfgym/Web-v0"
ENV_IDS = [*SELFGYM_IDS, WEB_ID, CONTROL_ID]

PASSIVE_CHECK_IGNORE_WARNING = [
    r"\x1b\[33mWARN: The environment (.*?) is out of date\. You should consider upgrading to version `v(\d)`\.\x1b\[0m",
]

CHECK_ENV_IGNORE_WARNINGS = [
    f"\x1b[33mWARN: {message}\x1b[0m"
    for message in [
        "A Box observation space minimum value is -infinity. This is probably too low.",
        "A Box observation space maximum value is infinity. This is probably too high.",
        "For Box action spaces, we recommend using a symmetric and normalized space (range=[-1, 1] or [0, 1]). See "
        "https://stable-baselines3.readthedocs.io/en/master/guide/rl_tips.html for more information.",
    ]
]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_all_env_api(env_id):
    """Check that all environments pass the environment checker with no warnings other than the expected."""
    with warnings.catch_warnings(record=True) as caught_warnings:
        env = gym.spec(env_id).make().unwrapped

        check_env(env, skip_render_check=True)

        env.close()

    for warning in caught_warnings:
        if warning.message.args[0] not in CHECK_ENV_IGNORE_WARNINGS:
            raise gym.error.Error(f"Unexpected warning: {warning.message}")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_all_env_passive_env_checker(env_id):
    with warnings.catch_warnings(record=True) as caught_warnings:
        # our ids register disable_env_checker=True (the checker would run on every step of training); Gymnasium's
        # registry leaves it on, so it is turned on here
        env = gym.make(env_id, disable_env_checker=False)
        env.reset()
        env.step(env.action_space.sample())

        env.close()

    passive_check_pattern = re.compile("|".join(PASSIVE_CHECK_IGNORE_WARNING))

    for warning in caught_warnings:
        if not passive_check_pattern.search(str(warning.message)):
            raise ValueError(f"Unexpected warning: {warning.message}")


SEED = 0
NUM_STEPS = 50


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_determinism_rollout(env_id):
    """Run a rollout with two environments and assert equality: the first observations, the sampled actions'
    observations (in the space), rewards, terminations, truncations and infos."""
    env_spec = gym.spec(env_id)
    if env_spec.nondeterministic is True:
        pytest.skip(f"Skipping {env_spec.id} as it is non-deterministic")

    env_1 = env_spec.make(disable_env_checker=True)
    env_2 = env_spec.make(disable_env_checker=True)

    initial_obs_1, initial_info_1 = env_1.reset(seed=SEED)
    initial_obs_2, initial_info_2 = env_2.reset(seed=SEED)
    assert data_equivalence(initial_obs_1, initial_obs_2, exact=True)

    env_1.action_space.seed(SEED)

    for time_step in range(NUM_STEPS):
        # We don't evaluate the determinism of actions
        action = env_1.action_space.sample()

        obs_1, rew_1, terminated_1, truncated_1, info_1 = env_1.step(action)
        obs_2, rew_2, terminated_2, truncated_2, info_2 = env_2.step(action)

        assert data_equivalence(obs_1, obs_2, exact=True), f"[{time_step}] obs_1={obs_1}, obs_2={obs_2}"
        assert env_1.observation_space.contains(obs_1)  # obs_2 verified by previous assertion

        assert rew_1 == rew_2, f"[{time_step}] reward 1={rew_1}, reward 2={rew_2}"
        assert terminated_1 == terminated_2, f"[{time_step}] done 1={terminated_1}, done 2={terminated_2}"
        assert truncated_1 == truncated_2, f"[{time_step}] done 1={truncated_1}, done 2={truncated_2}"
        assert data_equivalence(info_1, info_2, exact=True), f"[{time_step}] info_1={info_1}, info_2={info_2}"

        if terminated_1 or truncated_1:  # terminated_2, truncated_2 verified by previous assertion
            env_1.reset(seed=SEED)
            env_2.reset(seed=SEED)

    env_1.close()
    env_2.close()


def _pickle_round_trip(env: gym.Env) -> None:
    """Gymnasium's test_pickle_env body: a pickled env, reset and stepped, matches the original."""
    action = env.action_space.sample()

    try:  # added: the envs are closed however the test ends (a sandbox left held would outlive the test)
        env_reset = env.reset(seed=123)
        env_step = env.step(action)

        pickled_env = pickle.loads(pickle.dumps(env))
    finally:
        env.close()
    try:
        pickle_reset = pickled_env.reset(seed=123)
        pickle_step = pickled_env.step(action)
    finally:
        pickled_env.close()

    assert data_equivalence(env_reset, pickle_reset)
    assert data_equivalence(env_step, pickle_step)


# Issue 20, fault 3: Code-v0, Shell-v0 and Web-v0 did not pickle after reset ("Can't pickle local object
# 'UnixHTTPAdapter...'": the env held its sandbox's Docker client).
# Shell-v0's shipped tasks are Harbor tasks, whose episode (ShellEnv._harbor) holds containers of its own:
# ShellEnv lists it in `sandbox_bound`, so it is dropped like the sandbox.


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_env(env_id):
    # Gymnasium's envs come from `spec.make(disable_env_checker=True).unwrapped`
    _pickle_round_trip(gym.spec(env_id).make(disable_env_checker=True).unwrapped)


@pytest.mark.parametrize("env_id", SANDBOX_IDS)
def test_pickle_env_made_with_a_shared_pool(env_id, sandbox_image):
    """text: added. Through ``gym.make`` (the wrappers and the spec keep the pool too), with a shared pool: the
    restored env draws from the same pool."""
    with SandboxPool(sandbox_image, size=2) as pool:
        env = gym.make(env_id, pool=pool)
        try:
            env.reset(seed=1)
            restored = pickle.loads(pickle.dumps(env))
        finally:
            env.close()
        assert restored.unwrapped._lease.pool is pool and restored.spec.kwargs["pool"] is pool
        with pytest.raises(gym.error.ResetNeeded, match="unpickled mid-episode"):
            restored.unwrapped.step("ls")  # its sandbox was not kept: it must be reset first
        _pickle_round_trip(restored)


# --- check_environments_match, as tests/envs/mujoco/test_mujoco_v5.py uses it --------------------------------

@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_environments_match(env_id):
    from gymnasium.utils.env_match import check_environments_match

    env_a = gym.make(env_id, render_mode="ansi")
    env_b = gym.make(env_id, render_mode="ansi")
    check_environments_match(env_a, env_b, num_steps=NUM_STEPS)  # renders (the transcripts) compared too
    env_a.close()
    env_b.close()
