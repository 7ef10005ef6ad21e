"""The parts of ``selfgym/Math-v0``: answer extraction and verification, task sources, the Python tool."""

from .answers import Verdict, clear_verification_cache, extract_answer, judge, verify_answer
from .generators import ReasoningGymSource, generator_names, reasoning_gym_families
from .sources import DEFAULT_GENERATORS, TaskMix, default_source, load_math_jsonl
from .verifier import set_verifier_processes

__all__ = ["DEFAULT_GENERATORS", "ReasoningGymSource", "TaskMix", "Verdict", "clear_verification_cache",
           "default_source", "extract_answer", "generator_names", "judge", "load_math_jsonl",
           "reasoning_gym_families", "set_verifier_processes", "verify_answer"]
