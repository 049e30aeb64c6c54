"""The ground floor, pure: what the engine decides, with no I/O.

Typed models of connections and networks (models, network), the events parsed into hints (events),
the approval policy (its schema, YAML and evaluation: policy, policy_yaml; the verdicts planning
shares: decision), the plans (an accept's decision and safety checks: plan, checks; routes and DNS:
routing; what a dead connection leaves behind: cleanup_plan; reminders before a held request
expires: reminders), the invocation's time left (deadline) and the typed errors every floor raises
(errors). It may import only the standard library, pydantic and PyYAML (the policy, imported on its
first read) and its own modules: never boto3, botocore or Powertools, and no other floor
(tests/unit/test_layers.py).
"""
