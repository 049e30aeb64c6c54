"""Local AWS emulation for Peering Autopilot's tests and demos (moto, made to behave like AWS).

``emulation.fidelity`` patches moto where it deviates from AWS (one module per gap, see
docs/moto-gaps.md), ``emulation.lifecycle`` moves connections through the states and time moto
cannot reach, ``emulation.cloudtrail`` builds the events AWS would deliver and ``emulation.server``
runs it all as a server on loopback.
"""
