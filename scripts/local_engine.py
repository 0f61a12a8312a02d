"""Run a Pulumi program's resources on this machine without the Pulumi CLI.

Where the Pulumi CLI is installed, use it (``pulumi up``): it is the real engine. Where it cannot
be installed (these CI machines), this plays the engine's steps for the program instead, through
the REAL Pulumi dynamic provider host (the process the engine itself starts), with the state kept
in a JSON file: ``up`` checks, diffs, creates, updates or replaces each resource in dependency
order and deletes what the program no longer declares; ``preview`` stops after Check and Diff;
``destroy`` deletes everything. The step logic is the test bed's
(``rayservice_testbed.harness``).

    python scripts/local_engine.py up --program examples/local --config mangoPrice=4
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pulumi.runtime import config as runtime_config  # noqa: E402
from rayservice_testbed.harness.program_engine import ProgramEngine  # noqa: E402
from rayservice_testbed.harness.provider_host import ProviderHost, ResourceState, strip_secrets  # noqa: E402


def load_state(engine: ProgramEngine, path: Path) -> None:
    """Read the stack's state written by the last run (nothing on the first run)."""
    if not path.exists():
        return
    data = json.loads(path.read_text())
    for entry in data["resources"]:
        state = ResourceState(entry["urn"], entry["id"], entry["inputs"], entry["outputs"])
        engine.state[state.urn] = state
        engine.types[state.urn] = entry["type"]


def save_state(engine: ProgramEngine, path: Path) -> None:
    """Write the stack's state (secret values stay wrapped as the engine returned them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    resources = [
        {"urn": s.urn, "id": s.id, "type": engine.types[s.urn], "inputs": s.inputs,
         "outputs": s.outputs}
        for s in engine.state.values()
    ]  # fmt: skip
    path.write_text(json.dumps({"version": 1, "resources": resources}, indent=1))


def summary(engine: ProgramEngine) -> list[str]:
    """What a user wants to see after `up`: each Serve app's status and deployments."""
    lines = []
    for state in engine.state.values():
        outputs: dict[str, Any] = strip_secrets(state.outputs)
        if "app_name" in outputs:
            deployments = ", ".join(
                f"{k}={v}" for k, v in (outputs.get("deployments") or {}).items()
            )
            lines.append(
                f"  {outputs['app_name']}: {outputs.get('status')} on {outputs.get('target')} "
                f"route {outputs.get('route_prefix')} ({deployments})"
            )
    return lines


def main() -> int:
    """Parse the command line, run the command, print what was done; 1 on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "preview", "destroy"])
    parser.add_argument("--program", default="examples/local", help="directory with __main__.py")
    parser.add_argument("--project", default="rayservice-local", help="Pulumi project name")
    parser.add_argument("--state", default=".pulumi-local/state.json", help="state file")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    config = dict(item.split("=", 1) for item in args.config)
    runtime_config.CONFIG.set({f"{args.project}:{k}": v for k, v in config.items()})
    state_path = REPO / args.state
    program_file = (REPO / args.program / "__main__.py").resolve()

    with ProviderHost(cwd=program_file.parent) as host:
        engine = ProgramEngine(host, project=args.project)
        load_state(engine, state_path)
        if args.command == "destroy":
            engine.destroy()
            save_state(engine, state_path)
            print("destroyed: nothing is left")
            return 0

        def program() -> None:
            runpy.run_path(str(program_file), run_name="__main__")

        run = engine.preview(program) if args.command == "preview" else engine.up(program)
        for urn, op in run.steps.items():
            kind = urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1]
            print(f"  {op:>15}  {kind}  {urn.rsplit('::', 1)[-1]}")
        if args.command == "up":
            save_state(engine, state_path)
        if run.failure is not None:
            print(f"error: {str(run.failure).strip().splitlines()[-1]}", file=sys.stderr)
            return 1
        if args.command == "up":
            print("\n".join(["deployed:", *summary(engine)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
