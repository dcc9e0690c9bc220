"""The chapter "Plan a deployment": the planner (labs_py.plan) on the course's questions."""
