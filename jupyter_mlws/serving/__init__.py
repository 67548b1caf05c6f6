"""Local scoring endpoints (issue 8): replica processes, their manager, keys and stats.

- `replica`: one replica process (`python -m jupyter_mlws.serving.replica CONFIG.json`), its
  HTTP server in `protocol`, the numeric fast path in `fastpath`;
- `manager`: `EndpointManager`, which runs the store's endpoints as replicas (`procs`: the
  processes, ports and files it uses);
- `keys`: scoring keys and their hashes; `stats`: request counts and latency histograms.

The Python API is `ws.endpoints` (client/endpoints.py). Imports here stay light: nothing
is imported until a submodule is.
"""
