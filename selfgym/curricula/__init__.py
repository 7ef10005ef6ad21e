"""Which task an agent sees next: :class:`Curriculum` and its implementations.

Every curriculum draws from :class:`TaskFamily` objects (a generator with ``levels`` and ``make(level, rng)``);
``FixedFamily`` wraps a list of tasks. ``SimulatedFamily``/``SimulatedLearner`` test them without an LLM.
"""

from .base import Arm, Curriculum, FixedFamily, TaskFamily, outcome_value, task_arm
from .ladder import LadderCurriculum
from .plr import PrioritizedReplayCurriculum
from .progress import LearnabilityCurriculum, LearningProgressCurriculum
from .self_evolving import MutationWriter, SelfEvolvingCurriculum, TaskWriter, fingerprint
from .simulated import SimulatedFamily, SimulatedLearner
from .uniform import UniformCurriculum
from .writers import CodeTaskValidator, LLMTaskWriter, math_task_validator

CURRICULA = {
    "uniform": UniformCurriculum,
    "ladder": LadderCurriculum,
    "plr": PrioritizedReplayCurriculum,
    "learning_progress": LearningProgressCurriculum,
    "learnability": LearnabilityCurriculum,
    "self_evolving": SelfEvolvingCurriculum,
}

__all__ = [
    "CURRICULA", "Arm", "CodeTaskValidator", "Curriculum", "FixedFamily", "LLMTaskWriter", "LadderCurriculum",
    "LearnabilityCurriculum", "LearningProgressCurriculum", "MutationWriter", "PrioritizedReplayCurriculum",
    "SelfEvolvingCurriculum", "SimulatedFamily", "SimulatedLearner", "TaskFamily", "TaskWriter",
    "UniformCurriculum", "fingerprint", "math_task_validator", "outcome_value", "task_arm"
]
