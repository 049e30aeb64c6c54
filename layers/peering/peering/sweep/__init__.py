"""The scheduled sweep, the top floor: every account+Region converged, whatever events were missed.

The messages it queues and reads back, and their settings (messages), the organization's
account+Regions fanned out to the queue (fan_out), one account+Region converged from one snapshot
by every lifecycle (target), and the targets not ready yet, recorded and skipped (readiness). It may
import every floor below; only the functions, the runner and the scripts import it.
"""
