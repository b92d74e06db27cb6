"""`bench probe`: the gradient of the loss reaching each time step's state, at initialisation and during
training. Its model and optimiser options are the declared settings of bench/settings.py."""

from __future__ import annotations

from typing import Any

import click

from bench import models, plan
from bench.cli.common import FiniteFloat, NameList, plugin_option
from bench.cli.options import Device, bad_input, declared


@click.command()
@plugin_option
@click.option("--task", "task_names", type=NameList("task"), required=True,
              help="The task (one task string, e.g. adding).")
@click.option("--length", type=click.IntRange(1, plan.MAX_LENGTH), required=True, help="The dependency length L.")
@click.option("--models", "model_names", default="rnn,lstm,gru", show_default=True,
              help="Models, comma list, or 'all' (models that expose no per-step state are then listed as not probed).")
@click.option("--train-steps", type=click.IntRange(0, 10**8), default=0, show_default=True,
              help="Also train this many steps and probe at checkpoints along the way (0: initialisation only).")
@click.option("--checkpoints", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Checkpoints evenly spaced over --train-steps, besides initialisation.")
@click.option("--init-radius", type=FiniteFloat(0, 1e6, min_open=True), default=None,
              help="Rescale the recurrent weight matrix (each gate's block for lstm/gru) to this spectral radius "
                   "before training: above 1 a vanilla RNN's gradient explodes (try it with --clip 0).")
@click.option("--seed", type=click.IntRange(0, plan.MAX_SEED), default=0, show_default=True,
              help="The cell's seed: its initial weights and its training data.")
@declared("hidden", "layers", "batch_size", "lr", "clip")
@click.option("--device", type=Device(), default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--out", default="results", show_default=True, help="Results root; the probe goes to OUT/probes/NAME.")
def probe(**options: Any) -> int:
    """Show why memory fails: the gradient of the loss reaching each time step's state, at initialisation
    and during training, with its decay per step and the spectral radii behind it."""
    if len(options["task_names"]) != 1:
        raise click.BadParameter("give one task", param_hint="'--task'")
    names = _probe_models(options["model_names"])
    try:
        plan.checked_lengths((options["length"],), options["task_names"], "--length")
        root, device = plan.writable_root(options["out"]), plan.resolve_device(options["device"])
    except plan.PlanError as error:
        raise bad_input(error) from None
    from bench.probe import ProbeSpec, run_probe, summary_lines, unprobeable, write_probe

    spec = ProbeSpec(options["task_names"][0], options["length"], names, options["train_steps"], options["checkpoints"],
                     options["seed"], options["hidden"], options["layers"], options["batch_size"], options["lr"],
                     options["clip"], options["init_radius"], device)
    refused = unprobeable(spec) if options["model_names"].strip() != "all" else {}
    if refused:  # named explicitly: an error, not a silent gap (with 'all' they are listed instead)
        name, why = next(iter(refused.items()))
        raise click.BadParameter(f"{name} cannot be probed: it {why}", param_hint="'--models'")
    result = run_probe(spec, on_model=lambda name: click.echo(f"probing {name} ...", err=True))
    folder = root / "probes" / spec.name()
    write_probe(folder, spec, result)
    click.echo("\n".join(summary_lines(result)), err=True)
    click.echo(f"-> {folder}")
    return 0


def _probe_models(value: str) -> tuple[str, ...]:
    if value.strip() == "all":
        return tuple(models.registry.names())
    return NameList("model").convert(value, None, None)


