"""The adapters: every call to AWS, spoken in the core's types.

Clients per account and Region, assuming the member role (clients), every read of EC2 (observe),
a plan executed with idempotent calls (apply), the DynamoDB ledger with its conditional writes
(ledger), the notices queued with the writes they report (outbox) and sent to SNS (notify),
Organizations look-ups (org) and the approval policy read from SSM (policy_store). It may import
the core, the runtime, boto3 and botocore; not the lifecycles, the map or the sweep above it.
"""
