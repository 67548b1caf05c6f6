"""Checking a job before anything is stored, and writing it: run, snapshot, inputs, payload, queue.

Who calls it: `ws.jobs.submit(...)` (`client/jobs.py`) and `%%mlrun --target` (a cell job).

Every check comes first (`check_*`), so bad input is a clear error and nothing is half-created:
an unknown target (the known ones are listed), a job bigger than the target's nodes (both numbers
named), a missing code folder or notebook, a command that does not exist on this machine's nodes,
an input outside the allowed roots, a function or variable that cannot be pickled, a bad timeout.
Then `ws.jobs` (`client/jobs.py`) creates the run (`queued`), stores the code snapshot and the
inputs in it, and puts the job in the queue; when one of those writes fails, the run is deleted
again.

Decisions (docs/clusters-and-jobs.md):
- `command` is an argv list and never goes through a shell; a string is split like a shell would
  (`shlex`) but still run without one, unless `shell=True`.
- The script's arguments become params `args.<name>` (`--reg 0.01`, `--reg=0.01`, `-r 0.01`), as
  Azure ML users see their script's inputs on the run.
- Inputs are local files or folders (copied into the run as `inputs/<name>`, materialized on the
  node under `inputs/<name>`), data assets (`"data:batch-data"`, `"data:batch-data:2"`: pinned to a
  version at submit, recorded on the run as the tag `mlws.data.<input>`, materialized on the node
  from their blobs), or URLs (`s3://...`, `https://...`, passed as they are). Local ones
  must lie under the current folder, the code folder, or a folder in `$MLWS_JOB_INPUT_ROOTS`
  (os.pathsep-separated): a job cannot be used to lift `/etc/passwd` or a home folder's keys into
  a workspace others read.
- `timeout` is seconds or a text ("90s", "30m", "1h", "1h30m"); when it passes, the job's processes
  are killed and the run ends `canceled` with "timeout after ..." (Azure ML cancels on its limit).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter, NotFound

INPUT_ROOTS_ENV = "MLWS_JOB_INPUT_ROOTS"
_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)


def parse_timeout(value: Any) -> float | None:
    """Seconds from a number or a text like "1h30m"; None for no timeout."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidParameter(f"timeout must be seconds or a text like '1h', not {value!r}.")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif _is_number(str(value).strip()):
        seconds = float(str(value).strip())
    else:
        match = _DURATION.match(str(value))
        if not match or not any(match.groups()):
            raise InvalidParameter(
                f"timeout {value!r} is not seconds or a duration like '90s', '30m', '1h30m'."
            )
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = h * 3600 + m * 60 + s
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise InvalidParameter(f"timeout must be a positive number of seconds, not {value!r}.")
    return seconds


def check_target(store: Any, target: str | None) -> Any:
    """The cluster named `target`, or a clear error listing the clusters there are."""
    if not target:
        raise InvalidParameter("A job needs a target: the name of a cluster (ws.compute.clusters()).")
    try:
        return store.get_cluster(target)
    except NotFound:
        names = [c.name for c in store.list_clusters()]
        known = ", ".join(repr(n) for n in names) if names else "none yet (ws.compute.create_cluster)"
        raise NotFound(f"Unknown target {target!r}: the clusters of this workspace are {known}.") from None


def check_resources(cluster: Any, resources: dict[str, Any] | None) -> dict[str, Any]:
    """Normalized resources (cpus, gpus, memory_bytes) that fit one node of `cluster`."""
    from ..compute.spec import parse_memory

    given = dict(resources or {})
    unknown = set(given) - {"cpus", "gpus", "memory"}
    if unknown:
        raise InvalidParameter(f"Unknown job resources {sorted(unknown)}: use cpus, gpus and memory.")
    out: dict[str, Any] = {"cpus": given.get("cpus", 1), "gpus": given.get("gpus", 0)}
    for key in ("cpus", "gpus"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise InvalidParameter(f"Job resource {key} must be a number >= 0, not {value!r}.")
    if given.get("memory") is not None:
        out["memory_bytes"] = parse_memory(given["memory"])
    if cluster.kind == "cluster":
        if out["cpus"] > cluster.node_cpus:
            raise InvalidParameter(
                f"The job asks for {out['cpus']:g} CPUs but a node of {cluster.name!r} has "
                f"{cluster.node_cpus}."
            )
        if out["gpus"] > cluster.node_gpus:
            raise InvalidParameter(
                f"The job asks for {out['gpus']:g} GPUs but a node of {cluster.name!r} has "
                f"{cluster.node_gpus}."
            )
        memory = out.get("memory_bytes")
        if memory and cluster.node_memory_bytes and memory > cluster.node_memory_bytes:
            raise InvalidParameter(
                f"The job asks for {memory} bytes of memory but a node of {cluster.name!r} has "
                f"{cluster.node_memory_bytes}."
            )
    return out


def check_code(code: str | os.PathLike[str] | None) -> Path | None:
    if code is None:
        return None
    folder = Path(code).expanduser()
    if not folder.is_dir():
        raise NotFound(f"The code folder {os.fspath(code)!r} does not exist (or is not a folder).")
    return folder.resolve()


def check_command(command: Any, shell: bool, code: Path | None, local_nodes: bool) -> list[str] | str:
    """The argv to run (a string only with shell=True); a program that cannot be found is named."""
    if isinstance(command, str):
        if not command.strip():
            raise InvalidParameter("The job's command is empty.")
        if shell:
            return command
        argv = shlex.split(command)
    elif isinstance(command, (list, tuple)) and command:
        if not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in command):
            raise InvalidParameter(
                "A job's command is a list of strings (an argv), e.g. ['python', 'train.py']."
            )
        argv = [str(a) for a in command]
        if shell:
            raise InvalidParameter("shell=True takes the command as one string, not a list.")
    else:
        raise InvalidParameter("A job's command is a non-empty list of strings, e.g. ['python', 'train.py'].")
    program = argv[0]
    if local_nodes and "$" not in program:
        in_code = code is not None and (code / program).exists()
        if (
            not in_code
            and program not in ("python", "python3")
            and shutil.which(program) is None
            and not Path(program).is_file()
        ):
            raise NotFound(
                f"The command {program!r} does not exist here: not on PATH"
                + (f" nor in the code folder {str(code)!r}." if code else ".")
            )
    return argv


def script_params(argv: list[str] | str) -> dict[str, str]:
    """`--reg 0.01`, `--reg=0.01` and `-r 0.01` as {"args.reg": "0.01", "args.r": "0.01"}; flags "true"."""
    if isinstance(argv, str):
        return {}
    params: dict[str, str] = {}
    i = 1
    if argv and os.path.basename(argv[0]).startswith("python") and len(argv) > 1:
        # the script's (or module's) own arguments: after `train.py`, `-m pkg` or `-c CODE`
        i = 3 if argv[1] in ("-c", "-m") else 2
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            key = arg.lstrip("-")
            if "=" in key:
                key, value = key.split("=", 1)
            elif i + 1 < len(argv) and not (argv[i + 1].startswith("-") and not _is_number(argv[i + 1])):
                value = argv[i + 1]
                i += 1
            else:
                value = "true"
            if key:
                params[f"args.{key}"] = value
        i += 1
    return params


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def allowed_roots(code: Path | None) -> list[Path]:
    roots = [Path.cwd().resolve()]
    if code is not None:
        roots.append(code)
    for extra in os.environ.get(INPUT_ROOTS_ENV, "").split(os.pathsep):
        if extra.strip():
            roots.append(Path(extra).expanduser().resolve())
    return roots


def check_inputs(inputs: dict[str, Any] | None, code: Path | None) -> dict[str, dict[str, Any]]:
    """{name: {"local": Path} | {"uri": text}}; names are identifiers, local paths under the roots."""
    checked: dict[str, dict[str, Any]] = {}
    for name, value in (inputs or {}).items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidParameter(
                f"Input name {name!r} is not an identifier (it becomes $MLWS_INPUT_<NAME>)."
            )
        text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
        if text is None:
            raise InvalidParameter(f"Input {name!r} is a path or a URL, not {type(value).__name__}.")
        if text.startswith("data:"):
            checked[name] = {"data": text[5:]}  # a data asset: resolved to a version by ws.jobs
            continue
        if "://" in text:
            checked[name] = {"uri": text}
            continue
        path = Path(text).expanduser().resolve()
        roots = allowed_roots(code)
        if not any(path == root or root in path.parents for root in roots):
            raise InvalidParameter(
                f"Input {name!r} at {str(path)!r} is outside the allowed roots "
                f"({', '.join(str(r) for r in roots)}); add its folder to ${INPUT_ROOTS_ENV} to allow it."
            )
        if not path.exists():
            raise NotFound(f"Input {name!r}: {text!r} does not exist.")
        checked[name] = {"local": path}
    return checked


def pickled(value: Any, what: str) -> bytes:
    """cloudpickle bytes of `value`, or an InvalidParameter naming `what` and why it cannot ship."""
    import cloudpickle

    try:
        return bytes(cloudpickle.dumps(value))
    except Exception as err:
        raise InvalidParameter(f"{what} cannot be sent to a node: {type(err).__name__}: {err}") from None


def default_name(kind: str, spec: dict[str, Any]) -> str:
    """A run name from what runs: the script of `python train.py`, `python -m pkg`, `python -c`,
    else the program (`sleep`)."""
    if kind == "command":
        command = spec["command"]
        words = command.split() if isinstance(command, str) else [str(w) for w in command]
        if not words:
            return "job"
        program = os.path.basename(words[0])
        if program.startswith("python") and len(words) > 1:
            if words[1] in ("-c", "-m"):
                target = words[2] if words[1] == "-m" and len(words) > 2 else ""
                return f"{program} {words[1]} {target}".strip()[:200]
            if not words[1].startswith("-"):
                return os.path.basename(words[1])[:200]
        return program[:200] or "job"
    if kind == "notebook":
        return os.path.basename(spec["notebook"])[:200]
    return str(spec.get("function_name") or kind)[:200]
