"""Gymnasium 1.4.0's wrapper tests that apply to text envs, on selfgym's ids (see ``gymnasium_port.py``).

Ported from ``tests/wrappers/``: time_limit, order_enforcing, passive_env_checker, record_episode_statistics,
autoreset, sticky_action, lambda_reward, clip_reward, lambda_observation, frame_stack_observation,
delay_observation, and ``vector/``: record_episode_statistics, dict_info_to_list. Gymnasium's generic test env
records actions as observations or rewards; here a shell command echoes the action, and Math-v0 rewards a right
answer with 1 and a wrong one with 0. Changed assertions are marked ``# text:``. Not ported, and why: at the end.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidBound, InvalidProbability, ResetNeeded
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import iterate
from gymnasium.wrappers import (
    Autoreset,
    ClipReward,
    DelayObservation,
    FrameStackObservation,
    OrderEnforcing,
    PassiveEnvChecker,
    RecordEpisodeStatistics,
    StickyAction,
    TimeLimit,
    TransformObservation,
    TransformReward,
)
from gymnasium.wrappers.utils import create_zero_array
from gymnasium.wrappers.vector import DictInfoToList
from gymnasium_port import CHEAP_ID, CONTROL_ID, SELFGYM_IDS

from selfgym import Task
from selfgym.envs.code_env import CodeEnv
from selfgym.envs.math_env import MathEnv
from selfgym.envs.shell_env import ShellEnv

pytestmark = pytest.mark.docker
SEED = 42
ALL_IDS = [*SELFGYM_IDS, CONTROL_ID]
TWO_PLUS_TWO = Task("sum/1", "custom", "What is 2 + 2?", data={"answer": "4"})
RIGHT, WRONG = r"\boxed{4}", r"\boxed{5}"


# --- test_time_limit.py -------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ALL_IDS)
def test_time_limit_reset_info(env_id):
    env = gym.make(env_id, disable_env_checker=True)
    env = TimeLimit(env, 100)
    ob_space = env.observation_space
    obs, info = env.reset()
    assert ob_space.contains(obs)
    assert isinstance(info, dict)
    env.close()


@pytest.mark.parametrize("double_wrap", [False, True])
def test_time_limit_wrapper(double_wrap, pool):
    # text: Pendulum never terminates; a shell session whose own budget (20) is past the limit does not either
    env = ShellEnv(pool=pool)
    max_episode_length = 5  # text: 20
    env = TimeLimit(env, max_episode_length)
    if double_wrap:
        env = TimeLimit(env, max_episode_length)
    env.reset()
    terminated, truncated = False, False
    n_steps = 0
    while not (terminated or truncated):
        n_steps += 1
        _, _, terminated, truncated, info = env.step(env.action_space.sample())

    assert n_steps == max_episode_length
    assert truncated
    env.close()


@pytest.mark.parametrize("double_wrap", [False, True])
def test_termination_on_last_step(double_wrap):
    env = MathEnv(tools=False)  # text: Pendulum, whose step is patched to terminate; here the answer does

    max_episode_length = 1
    env = TimeLimit(env, max_episode_length)
    if double_wrap:
        env = TimeLimit(env, max_episode_length)
    env.reset(options={"task": TWO_PLUS_TWO})
    _, _, terminated, truncated, _ = env.step(RIGHT)
    assert terminated is True
    assert truncated is True


def test_max_episode_steps():
    env = gym.make(CHEAP_ID, disable_env_checker=True)

    # text: CartPole registers max_episode_steps=500; our envs truncate by themselves (max_steps), so none
    assert env.spec.max_episode_steps is None
    assert TimeLimit(env, max_episode_steps=10).spec.max_episode_steps == 10

    with pytest.raises((TypeError, ValueError), match="Expect the `max_episode_steps` to be positive, actually: -1"):
        TimeLimit(env, max_episode_steps=-1)

    with pytest.raises((TypeError, ValueError), match="Expect the `max_episode_steps` to be an integer"):
        TimeLimit(env, max_episode_steps=None)

    env.close()


# --- test_order_enforcing.py --------------------------------------------------------------------------------

def _has_wrapper(wrapped_env: gym.Env, wrapper_type: type[gym.Wrapper]) -> bool:
    while isinstance(wrapped_env, gym.Wrapper):
        if isinstance(wrapped_env, wrapper_type):
            return True
        wrapped_env = wrapped_env.env
    return False


def test_order_enforcing(pool):
    # The reason for not using gym.make is that all environments are by default wrapped in the order enforcing wrapper
    env = CodeEnv(pool=pool, render_mode="ansi")  # text: CartPoleEnv(render_mode="rgb_array_list")
    assert not _has_wrapper(env, OrderEnforcing)

    order_enforced_env = OrderEnforcing(env)
    assert order_enforced_env.has_reset is False
    with pytest.raises(ResetNeeded):
        order_enforced_env.step("pass")
    with pytest.raises(ResetNeeded):
        order_enforced_env.render()
    assert order_enforced_env.has_reset is False

    order_enforced_env.reset()
    assert order_enforced_env.has_reset is True
    order_enforced_env.step("pass")
    order_enforced_env.render()

    env.close()
    env = CodeEnv(pool=pool, render_mode="ansi")
    env = OrderEnforcing(env, disable_render_order_enforcing=True)
    env.render()  # no assertion error
    env.close()


# --- test_passive_env_checker.py ----------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ALL_IDS)
def test_passive_checker_wrapper_warnings(env_id):
    # text: Gymnasium returns early for specs with disable_env_checker, which ours have (see test_gymnasium_envs)
    env = gym.spec(env_id).make(disable_env_checker=True).unwrapped
    with warnings.catch_warnings(record=True) as caught_warnings:
        checker_env = PassiveEnvChecker(env)
        checker_env.reset()
        checker_env.step(checker_env.action_space.sample())

        checker_env.close()

    for warning in caught_warnings:
        raise gym.error.Error(f"Unexpected warning: {warning.message}")


# --- test_record_episode_statistics.py ----------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("deque_size", [2, 5])
def test_record_episode_statistics(env_id, deque_size):
    env = gym.make(env_id, disable_env_checker=True)
    env = RecordEpisodeStatistics(env, deque_size)

    for _ in range(5):
        env.reset()
        assert env.episode_returns is not None and env.episode_lengths is not None
        assert env.episode_returns == 0.0
        assert env.episode_lengths == 0
        assert env.spec is not None
        for _ in range(env.unwrapped.max_steps):  # text: spec.max_episode_steps (None: our envs truncate themselves)
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            if terminated or truncated:
                assert "episode" in info
                assert all([item in info["episode"] for item in ["r", "l", "t"]])
                break
    assert len(env.return_queue) == deque_size
    assert len(env.length_queue) == deque_size
    env.close()


# --- test_autoreset.py --------------------------------------------------------------------------------------

def test_autoreset_wrapper_autoreset():
    # text: the counting env observes its count and terminates with reward 1 after 3 steps; Math-v0 counts in
    # info["step"] and terminates with reward 1 on the right answer, given on the third step
    env = Autoreset(MathEnv(tools=False, max_steps=4))

    obs, info = env.reset(options={"task": TWO_PLUS_TWO})
    assert obs.startswith("What is 2 + 2?")
    assert info["step"] == 0

    obs, reward, terminated, truncated, info = env.step("thinking")
    assert reward == 0
    assert (terminated or truncated) is False
    assert info["step"] == 1

    obs, reward, terminated, truncated, info = env.step("thinking")
    assert (terminated or truncated) is False
    assert reward == 0
    assert info["step"] == 2

    obs, reward, terminated, truncated, info = env.step(RIGHT)
    assert obs == "Correct."
    assert (terminated or truncated) is True
    assert reward == 1
    assert info["step"] == 3

    obs, reward, terminated, truncated, info = env.step("thinking")
    assert not obs.startswith("Your reply")  # a new episode's task
    assert reward == 0
    assert (terminated or truncated) is False
    assert info["step"] == 0

    env.close()


# --- test_sticky_action.py ----------------------------------------------------------------------------------
# text: the generic env records the action as its observation; a shell session echoes it

@pytest.mark.parametrize(
    "repeat_action_probability,repeat_action_duration,actions,expected_action",
    [
        (0.25, 1, [0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 2, 3, 3, 3, 6, 6]),
        (0.25, 2, [0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 3, 4, 4, 4, 4]),
        (0.25, (1, 3), [0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 0, 4, 4, 4, 4]),
    ],
)
def test_sticky_action(repeat_action_probability, repeat_action_duration, actions, expected_action, pool):
    env = StickyAction(ShellEnv(pool=pool), repeat_action_probability=repeat_action_probability,
                       repeat_action_duration=repeat_action_duration)
    env.reset(seed=11, options={"task_id": "shell/files-001"})  # a pinned task: the seed's draws are the wrapper's

    assert len(actions) == len(expected_action)
    for action, action_taken in zip(actions, expected_action, strict=True):
        observation, _, _, _, _ = env.step(f"echo {action}")
        executed_action = int(observation.split()[0])
        assert executed_action == action_taken
    env.close()


@pytest.mark.parametrize("repeat_action_probability", [-1, 1, 1.5])
def test_sticky_action_raise_probability(repeat_action_probability):
    with pytest.raises(InvalidProbability):
        StickyAction(MathEnv(), repeat_action_probability=repeat_action_probability)


@pytest.mark.parametrize("repeat_action_duration", [-4, 0, (0, 0), (4, 2), [1, 2]])
def test_sticky_action_raise_duration(repeat_action_duration):
    with pytest.raises((ValueError, InvalidBound)):
        StickyAction(MathEnv(), 0.5, repeat_action_duration=repeat_action_duration)


# --- test_lambda_reward.py, test_clip_reward.py -------------------------------------------------------------

def test_lambda_reward():
    # text: the generic env's reward is its action; Math-v0's is 0 for a wrong answer, 1 for the right one
    env = MathEnv(tools=False)
    wrapped_env = TransformReward(env, lambda r: 2 * r + 1)

    wrapped_env.reset(options={"task": TWO_PLUS_TWO})
    _, rew, _, _, _ = wrapped_env.step(WRONG)
    assert rew == 1
    wrapped_env.reset(options={"task": TWO_PLUS_TWO})
    _, rew, _, _, _ = wrapped_env.step(RIGHT)
    assert rew == 3


@pytest.mark.parametrize(("lower_bound", "upper_bound", "expected_reward"),
                         [(None, 0.5, 0.5), (0, None, 1), (0, 0.5, 0.5)])
def test_clip_reward_wrapper(lower_bound, upper_bound, expected_reward):
    env = gym.make(CHEAP_ID, tools=False)  # text: CartPole, whose first step's reward is 1; here a right answer's
    env = ClipReward(env, lower_bound, upper_bound)
    env.reset(seed=SEED, options={"task": TWO_PLUS_TWO})
    _, rew, _, _, _ = env.step(RIGHT)

    assert rew == expected_reward


@pytest.mark.parametrize(("lower_bound", "upper_bound"),
                         [(None, None), (1, -1), (np.array([1, 1]), np.array([0, 0]))])
def test_clip_reward_incorrect_params(lower_bound, upper_bound):
    env = gym.make(CHEAP_ID)

    with pytest.raises(InvalidBound):
        ClipReward(env, lower_bound, upper_bound)


# --- test_lambda_observation.py -----------------------------------------------------------------------------

def test_lambda_observation_wrapper():
    # text: Box(2, 3) observations of obs + 2; here upper-cased observations with a "!", in a space of those
    env = gym.make(CONTROL_ID)
    shouted = gym.spaces.Text(64, charset="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!")
    wrapped_env = TransformObservation(env, lambda obs: obs.upper() + "!", shouted)

    def check_obs(transformed_obs, original_obs):  # Gymnasium's tests.wrappers.utils.check_obs, strict
        assert transformed_obs in wrapped_env.observation_space
        assert original_obs in env.observation_space
        assert transformed_obs not in env.observation_space
        assert original_obs not in wrapped_env.observation_space

    obs, info = wrapped_env.reset(seed=SEED)
    check_obs(obs, env.unwrapped.transcript[-1])

    obs, _, _, _, info = wrapped_env.step("abcd")
    check_obs(obs, env.unwrapped.transcript[-1])
    env.close()


# --- test_frame_stack_observation.py, test_delay_observation.py --------------------------------------------
# text: over our envs instead of generic envs of every space

def long_env(env_id: str) -> gym.Env:
    """text: an env with room for the tests' 7 steps in one episode (Code-v0 allows 3 attempts by default)."""
    return gym.make(env_id, disable_env_checker=True, max_steps=10)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_frame_stack_different_obs_spaces(env_id, stack_size: int = 3):
    env = long_env(env_id)
    obs, _ = env.reset(seed=SEED)
    env.action_space.seed(SEED)

    unstacked_obs = [obs for _ in range(stack_size)]
    for _ in range(stack_size * 2):
        obs, _, _, _, _ = env.step(env.action_space.sample())
        unstacked_obs.append(obs)

    env = FrameStackObservation(env, stack_size=stack_size)
    env.action_space.seed(seed=SEED)

    obs, _ = env.reset(seed=SEED)
    stacked_obs = [obs]
    assert obs in env.observation_space

    for _ in range(stack_size * 2):
        obs, _, _, _, _ = env.step(env.action_space.sample())
        stacked_obs.append(obs)
        assert obs in env.observation_space

    assert len(unstacked_obs) == len(stacked_obs) + stack_size - 1
    for i in range(len(stacked_obs)):
        assert data_equivalence(unstacked_obs[i: i + stack_size], list(iterate(env.observation_space, stacked_obs[i])))
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_delay_env_obs(env_id, delay: int = 3, extra_steps: int = 4):
    env = long_env(env_id)
    env.action_space.seed(SEED)
    obs, _ = env.reset(seed=SEED)

    undelayed_obs = [obs]
    for _ in range(delay + extra_steps):
        obs, _, _, _, _ = env.step(env.action_space.sample())
        undelayed_obs.append(obs)

    env = DelayObservation(env, delay=delay)
    example_zero_obs = create_zero_array(env.observation_space)
    env.action_space.seed(SEED)
    obs, _ = env.reset(seed=SEED)
    assert data_equivalence(obs, example_zero_obs)
    assert obs in env.observation_space

    delayed_obs = [obs]
    for i in range(delay + extra_steps):
        obs, _, _, _, _ = env.step(env.action_space.sample())
        delayed_obs.append(obs)
        assert obs in env.observation_space

        if i < delay - 1:
            assert data_equivalence(obs, example_zero_obs)

    assert data_equivalence(delayed_obs[delay:], undelayed_obs[:-delay])
    env.close()


# --- vector/test_record_episode_statistics.py ---------------------------------------------------------------

@pytest.mark.parametrize("num_envs", (1, 3))
@pytest.mark.parametrize("env_id", [CHEAP_ID, CONTROL_ID])
def test_vector_record_episode_statistics(num_envs, env_id, num_steps=20):  # text: 100 steps
    wrapper_vector_env = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec(id=env_id, num_envs=num_envs, vectorization_mode="sync"))
    vector_wrapper_env = gym.make_vec(id=env_id, num_envs=num_envs, vectorization_mode="sync",
                                      wrappers=(gym.wrappers.RecordEpisodeStatistics,))

    assert wrapper_vector_env.action_space == vector_wrapper_env.action_space
    assert wrapper_vector_env.observation_space == vector_wrapper_env.observation_space
    assert wrapper_vector_env.single_action_space == vector_wrapper_env.single_action_space
    assert wrapper_vector_env.single_observation_space == vector_wrapper_env.single_observation_space
    assert wrapper_vector_env.num_envs == vector_wrapper_env.num_envs

    wrapper_vector_obs, wrapper_vector_info = wrapper_vector_env.reset(seed=123)
    vector_wrapper_obs, vector_wrapper_info = vector_wrapper_env.reset(seed=123)

    assert data_equivalence(wrapper_vector_obs, vector_wrapper_obs)
    assert data_equivalence(wrapper_vector_info, vector_wrapper_info)

    for _ in range(1, num_steps + 1):
        action = wrapper_vector_env.action_space.sample()
        wrapper_vector_obs, wrapper_vector_reward, wrapper_vector_terminated, wrapper_vector_truncated, \
            wrapper_vector_info = wrapper_vector_env.step(action)
        vector_wrapper_obs, vector_wrapper_reward, vector_wrapper_terminated, vector_wrapper_truncated, \
            vector_wrapper_info = vector_wrapper_env.step(action)

        assert data_equivalence(wrapper_vector_obs, vector_wrapper_obs)
        assert data_equivalence(wrapper_vector_reward, vector_wrapper_reward)
        assert data_equivalence(wrapper_vector_terminated, vector_wrapper_terminated)
        assert data_equivalence(wrapper_vector_truncated, vector_wrapper_truncated)

        if "episode" in wrapper_vector_info:
            wrapper_vector_time = wrapper_vector_info["episode"].pop("t")
            vector_wrapper_time = vector_wrapper_info["episode"].pop("t")
            assert wrapper_vector_time.shape == vector_wrapper_time.shape
            assert wrapper_vector_time.dtype == vector_wrapper_time.dtype

            vector_wrapper_info["episode"].pop("_l")
            vector_wrapper_info["episode"].pop("_r")
            vector_wrapper_info["episode"].pop("_t")

        assert data_equivalence(wrapper_vector_info, vector_wrapper_info)

    wrapper_vector_env.close()
    vector_wrapper_env.close()


@pytest.mark.parametrize("autoreset_mode", list(AutoresetMode))
def test_episode_statistics_with_autoreset_mode(autoreset_mode, num_envs=2, episode_length=3, num_steps=25):
    # text: fixed-length episodes of a generic env rewarding 1 per step; here Math-v0 replies without an answer
    # (reward 0) until max_steps=3 truncates the episode
    def make():
        return MathEnv(tools=False, max_steps=episode_length)

    envs = gym.wrappers.vector.RecordEpisodeStatistics(
        SyncVectorEnv([make for _ in range(num_envs)], autoreset_mode=autoreset_mode))

    envs.reset(seed=123)
    for _ in range(num_steps):
        _, _, terminations, truncations, infos = envs.step(["thinking"] * num_envs)

        dones = np.logical_or(terminations, truncations)
        if np.any(dones):
            assert "episode" in infos
            assert np.all(infos["episode"]["r"][dones] == 0)  # text: == episode_length
            assert np.all(infos["episode"]["l"][dones] == episode_length)

            if autoreset_mode == AutoresetMode.DISABLED:
                envs.reset(options={"reset_mask": np.copy(dones)})

    assert envs.episode_count > num_envs
    assert np.all(np.array(envs.return_queue) == 0)  # text: == episode_length
    assert np.all(np.array(envs.length_queue) == episode_length)
    envs.close()


# --- vector/test_dict_info_to_list.py -----------------------------------------------------------------------

@pytest.mark.parametrize("env_id", [CHEAP_ID, CONTROL_ID])
def test_usage_in_vector_env(env_id, num_envs: int = 3):
    env = gym.make(env_id, disable_env_checker=True)
    vector_env = gym.make_vec(env_id, num_envs=num_envs)

    DictInfoToList(vector_env)

    with pytest.raises(TypeError):
        DictInfoToList(env)
    env.close()
    vector_env.close()


def test_dict_info_to_list_gives_each_env_its_info():
    """text: Gymnasium's test_update_info feeds hand-written info dicts through a stub vector env; here the
    infos of real episodes: each env's list entry is what that env's own info would be."""
    vector_env = DictInfoToList(gym.make_vec(CHEAP_ID, num_envs=2, vectorization_mode="sync"))
    _, infos = vector_env.reset(seed=[3, 4])
    singles = [gym.make(CHEAP_ID).reset(seed=seed)[1] for seed in (3, 4)]
    assert [info["task_id"] for info in infos] == [info["task_id"] for info in singles]
    vector_env.close()


# --- not ported, and why ------------------------------------------------------------------------------------
# Wrappers for Box/Discrete/image observations or actions (action_repeat's, clip_action, rescale_*,
# normalize_*, discretize_*, flatten/reshape/resize/gray_scale/dtype observation, atari_preprocessing,
# max_and_skip, time_aware_observation, filter_observation (Dict)), array conversion (jax/torch/numpy),
# rendering and video wrappers (rgb frames; our render is ansi text), and the jax/torch vector wrappers.
# test_passive_env_checker.py's test_initialise_failures and test_api_failures check the checker on broken
# generic envs; they do not involve an env of ours.
