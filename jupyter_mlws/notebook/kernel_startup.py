"""Run at the start of every kernel the server launches: loads the jupyter_mlws IPython extension.

The server extension points `$PYTHONSTARTUP` at this file in its own environment, which
kernels inherit (`MLWorkspaceApp.autoload_extension`, on by default). ipykernel runs
`$PYTHONSTARTUP` before the first cell, so `%%mlrun`, `%mlws` and the execution recorder are
there in every notebook of the workspace without a `%load_ext`. A `$PYTHONSTARTUP` the user
had is kept in `$MLWS_USER_PYTHONSTARTUP` and run afterwards. Outside IPython (a plain
`python` started in a Jupyter terminal) this file does nothing but that hand-over.

The extension is loaded by calling `load_ipython_extension` (idempotent), not through
IPython's extension manager, so that the `%load_ext jupyter_mlws` a notebook may still carry
does what its docs say: nothing visible.

Decision: `$PYTHONSTARTUP` rather than a custom kernelspec, because it reaches the kernels
of the stock "Python 3" kernelspec that notebooks already name; compute instances (their own
kernelspecs) load the extension through their provisioner, which points `$PYTHONSTARTUP` here
too; in their kernels this file also installs the MemoryError message of `notebook/memory.py`.
"""


def _mlws_kernel_startup() -> None:
    import os
    import sys

    shell = None
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # a builtin inside IPython
    except NameError:
        pass
    if shell is not None and os.environ.get("MLWS_AUTOLOAD", "1") != "0":
        try:
            # Called directly, not through IPython's extension manager: a notebook's own
            # `%load_ext jupyter_mlws` then loads it again (idempotent) without printing
            # "The jupyter_mlws extension is already loaded" into the notebook.
            # run as a script ($PYTHONSTARTUP): absolute, and the loader `%load_ext jupyter_mlws` calls
            from jupyter_mlws.notebook import load_ipython_extension

            load_ipython_extension(shell)
        except Exception as err:  # never break a kernel's start
            print(f"jupyter_mlws: the IPython extension did not load: {err}", file=sys.stderr)
    if shell is not None and os.environ.get("MLWS_MEMORY_LIMIT"):
        try:  # a compute instance's kernel: a MemoryError names the instance's limit
            from jupyter_mlws.notebook import memory

            memory.install(shell)
        except Exception as err:
            print(f"jupyter_mlws: the memory-limit message is off: {err}", file=sys.stderr)
    user = os.environ.get("MLWS_USER_PYTHONSTARTUP", "")
    if user and os.path.isfile(user) and os.path.abspath(user) != os.path.abspath(__file__):
        with open(user, encoding="utf-8") as handle:
            code = compile(handle.read(), user, "exec")
        exec(code, globals())


_mlws_kernel_startup()
del _mlws_kernel_startup
