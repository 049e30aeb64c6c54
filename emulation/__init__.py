"""Local AWS emulation for Peering Autopilot's tests and demos (moto, made to behave like AWS).

See ``emulation.moto_fidelity`` and docs/moto-gaps.md.
"""
