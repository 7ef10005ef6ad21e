"""The parts of ``selfgym/Code-v0``: task sources, code extraction, the test harness and feedback."""

from .extract import Solution, build_solution, extract_code
from .harness import AttemptReport, TestPlan, TestResult, TestSuite, build_plan, run_attempt
from .sources import code_task, code_tasks, humaneval, read_code_jsonl, task_plan

__all__ = ["AttemptReport", "Solution", "TestPlan", "TestResult", "TestSuite", "build_plan", "build_solution",
           "code_task", "code_tasks", "extract_code", "humaneval", "read_code_jsonl", "run_attempt", "task_plan"]
