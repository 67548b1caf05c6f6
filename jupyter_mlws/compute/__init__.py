"""Compute targets. Today: compute instances, named kernel sizes (issue 7).

- `spec`: definitions (validation, memory sizes) and their kernelspecs `mlws-<name>`;
- `provisioner`, `resources`, `watchdog`, `limits`: the jupyter_client kernel
  provisioner that starts an instance's kernels and applies its limits.

Nothing here is imported by `import jupyter_mlws`.
"""
