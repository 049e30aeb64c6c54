"""The peering map: one page showing every connection as the sweep plans it.

A fragment per account+Region built with the lifecycles' own planning (model, pure), boxes and
curves laid out (layout, pure), one self-contained page drawn (render, with its style and script:
assets; standard library only), and the fragments and the page read and written in S3 (publish).
Imported only when a map is wanted, so no handler's cold start pays for it. It may import the core,
the runtime, the adapters and the lifecycles; not the sweep, which calls it (the peers' subnets it
shows are read by aws/observe.py, as the sweep reads them).
"""
