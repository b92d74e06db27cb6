"""What bench knows and how fast it is: `bench tasks`, `models`, `presets`, `show`, `check` and `speed`.
Registered on the main group by bench/cli/__init__.py."""

from __future__ import annotations

import click

from bench import models  # the registry only: torch is imported when a model is built
from bench.cli.common import IntList, NameList, plugin_option


@click.command("presets")
def list_presets() -> None:
    """List the published experiments `bench run --preset NAME` reproduces, with their sources, published
    numbers and every stated difference."""
    from bench import presets

    for preset in presets.presets().values():
        click.echo("\n".join(presets.describe(preset)))
        click.echo()


@click.command()
@plugin_option
@click.argument("names", nargs=-1)
@click.option("--lengths", type=IntList("length", 1, 100_000), default=None,
              help="Dependency lengths to check tasks at [default: the minimum, 7 and 40].")
def check(names: tuple[str, ...], lengths: tuple[int, ...] | None) -> int:
    """Check tasks and models against their contracts (all when no NAMES): exit 1 if any fails."""
    task_names, model_names = _split_names(names)
    import longdep_tasks as tasks
    from bench.models.checks import check_model
    from longdep_tasks._check import check_task

    failed = 0
    for name in task_names:
        task = tasks.get(name)
        at = tuple(length for length in lengths if length >= task.min_length) if lengths else None
        failed += _print_check("task", name, check_task(task, at or None))
    for name in model_names:
        failed += _print_check("model", name, check_model(name))
    click.echo(f"{len(task_names) + len(model_names) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _split_names(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    import longdep_tasks as tasks

    task_names, model_names = tasks.names(), models.registry.names()
    if not names:
        return task_names, model_names
    for name in names:
        if ":" in name:  # a task variant: its parameters are validated like --task's
            NameList("task").convert(name, None, None)
        elif name not in task_names and name not in model_names:
            raise click.BadParameter(f"no task or model '{name}' (tasks: {', '.join(task_names)}; models: "
                                     f"{', '.join(model_names)})", param_hint="NAMES")
    return [n for n in names if n in task_names or ":" in n], [n for n in names if n in model_names]


def _print_check(kind: str, name: str, problems: list[str]) -> int:
    if not problems:
        click.echo(f"✓ {kind} {name}")
        return 0
    click.echo(f"✗ {kind} {name}: {len(problems)} problem(s)")
    for problem in problems:
        click.echo(f"    {problem}")
    return 1


@click.command("tasks")
@plugin_option
@click.option("--json", "as_json", is_flag=True,
              help="Every task's spec as JSON: parameters, length meaning and spans, baselines, solve rule, peers.")
def list_tasks(as_json: bool) -> None:
    """List registered tasks and the parameters a task string may set."""
    from bench.showing import task_spec
    import longdep_tasks as tasks

    if as_json:
        import json

        click.echo(json.dumps([task_spec(tasks.get(name)) for name in tasks.names()], indent=1))
        return
    for name in tasks.names():
        task = tasks.get(name)
        click.echo(f"{name:20} v{task.version}  L = {task.length_meaning}  {task.description}")
        for key, option in task.options.items():
            click.echo(f"{'':22}{key}={option.describe()} (default {option.default}): {option.help}")


@click.command("models")
@plugin_option
@click.option("--json", "as_json", is_flag=True, help="Every model as JSON: name, version, description, plug-in.")
def list_models(as_json: bool) -> None:
    """List registered models, with their parameters (NAME:key=value) and whether --compile applies."""
    if as_json:
        import json

        click.echo(json.dumps([{**models.identity(name), "description": models.description(name),
                                "compiles": models.compiles(name),
                                "params": {key: {"accepts": p.accepts, "help": p.help}
                                           for key, p in models.spec(name).params.items()}}
                               for name in models.registry.names()], indent=1))
        return
    for name in models.registry.names():
        compiled = " [--compile applies]" if models.compiles(name) else ""
        click.echo(f"{name:20} {models.description(name)}{compiled}")
        for key, param in models.spec(name).params.items():
            click.echo(f"{'':22}{key}={param.accepts}: {param.help}")


@click.command()
@plugin_option
@click.argument("task_name", metavar="TASK", type=NameList("task"))
@click.option("--length", type=click.IntRange(1, 10_000), default=10, show_default=True,
              help="The dependency length L of the example (what L means is task-specific; `bench tasks`).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="The data seed: the example is sample 0 of the (task, L, seed) training stream.")
def show(task_name: tuple[str, ...], length: int, seed: int) -> None:
    """Print one generated example of TASK, so you can see what the model must do."""
    from bench.showing import describe_example
    import longdep_tasks as tasks

    task = tasks.get(task_name[0])
    if length < task.min_length:
        raise click.BadParameter(f"task {task.name} needs a length of at least {task.min_length}",
                                 param_hint="'--length'")
    click.echo(describe_example(task, length, seed))


@click.command()
@click.option("--quick", is_flag=True, help="Only what fits in under a minute: start-up, two generators at "
                                            "n=1024, the loop at L=50, the report (no --jobs sweeps).")
def speed(quick: bool) -> int:
    """Measure every speed figure against a baseline timed in the same run (start-up, generators, training
    loop, --jobs scaling, report build) and print one table; exit 1 when a target is missed."""
    from bench.speed import measure, table

    rows = []
    for row in measure(quick):  # each row on stderr as it is measured: a long run interrupted keeps them
        rows.append(row)
        click.echo(" ".join(cell for cell in row.cells() if cell), err=True)
    click.echo(table(rows))
    missed = [row.figure for row in rows if row.ok is False]
    if missed:
        click.echo(f"bench: {len(missed)} target(s) missed: {'; '.join(missed)}", err=True)
    return 1 if missed else 0


COMMANDS = (list_tasks, list_models, list_presets, show, check, speed)
