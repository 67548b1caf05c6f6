"""Jobs on training clusters (issue 15): checked and queued by `submit`, handed to Dask by
`dispatcher`, run and supervised on a node by `node` (the job's own process is `child` for
functions, cells and notebooks; `notebooks` injects parameters). The user's API is `ws.jobs`
(`client/jobs.py`). Nothing here is imported by `import jupyter_mlws`."""
