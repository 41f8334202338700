"""Commands of the model registry: ``tuner promote`` (a study's best trial becomes a version),
``tuner models`` (models, versions, aliases, the alias history) and ``tuner models alias``
(move an alias; a rollback is moving it back) and ``tuner models export`` (ONNX or PMML)."""

from __future__ import annotations

import argparse
import json

from tuner.cli import database_option
from tuner.commands import output
from tuner.commands.studies import positive
from tuner.errors import SpecError
from tuner.models.runtimes import BATCH_ROWS
from tuner.objective import search_paths
from tuner.promotion import describe, promote, summary_json
from tuner.registry import ModelRegistry, default_store_url


def store_option(parser: argparse.ArgumentParser) -> None:
    """``--store URL``: where the bundles are (a folder or an fsspec URL)."""
    parser.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="artifact store of the bundles: a folder or an fsspec URL such as s3://bucket/models"
        " (default: $TUNER_MODEL_STORE, else $TUNER_ARTIFACTS_DIR/models)",
    )


def open_registry(args: argparse.Namespace, must_exist: bool = True) -> ModelRegistry:
    store = args.store or default_store_url(args.settings.artifacts_dir)
    return ModelRegistry.open(args.db, store, must_exist=must_exist)


class PromoteCommand:
    help = "register a study's best trial (or --trial N) as a new version of a model"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        store_option(parser)
        parser.add_argument("study")
        parser.add_argument("--model", required=True, help="the registered model's name")
        parser.add_argument("--trial", type=int, default=None, metavar="N", help="not the best")
        parser.add_argument(
            "--retrain", action="store_true", help="refit the params on all the data first"
        )
        parser.add_argument("--alias", default=None, help="e.g. production")
        parser.add_argument(
            "--when",
            choices=["better", "always"],
            default="better",
            help="move the alias only when better on the study's metric (default), or always",
        )
        parser.add_argument("--json", action="store_true", help="the new version as JSON")

    def __call__(self, args: argparse.Namespace) -> int:
        registry = open_registry(args)
        reg = promote(
            registry.storage,
            registry,
            args.study,
            args.model,
            trial=args.trial,
            retrain=args.retrain,
            alias=args.alias,
            when=args.when,
            paths=search_paths(),
        )
        print(summary_json(reg) if args.json else describe(reg))
        return 0


class ModelsCommand:
    help = (
        "registered models; NAME: its versions (--history: alias moves); "
        "'alias NAME ALIAS VERSION' moves an alias"
    )

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        store_option(parser)
        parser.add_argument(
            "words",
            nargs="*",
            metavar="NAME | alias NAME ALIAS VERSION | export NAME:VERSION",
            help="a model's name, or 'alias' with the model, the alias and the version, or "
            "'export' with a version (ONNX, scored with onnxruntime: pip install 'tuner[onnx]'; "
            "PMML, scored with the JPMML evaluator: pip install 'tuner[pmml]' and Java)",
        )
        parser.add_argument(
            "--format", default="onnx", choices=["onnx", "pmml"], help="of an export"
        )
        parser.add_argument("--history", action="store_true", help="the audit trail of aliases")
        parser.add_argument("--reason", default="", help="why an alias moves (kept in history)")
        parser.add_argument("--json", action="store_true", help="JSON")

    def __call__(self, args: argparse.Namespace) -> int:
        words: list[str] = args.words
        if words and words[0] == "alias":
            return self._alias(args, words[1:])
        if words and words[0] == "export":
            return self._export(args, words[1:])
        if len(words) > 1:
            raise SpecError("models", "expected at most one model name (or 'alias ...')")
        registry = open_registry(args)
        if not words:
            summaries = registry.models()
            if args.json:
                print(json.dumps([m.to_dict() for m in summaries], indent=2))
                return 0
            rows = [
                [
                    m.name,
                    m.versions,
                    m.latest,
                    " ".join(f"{a}={v}" for a, v in m.aliases.items()) or "-",
                    m.created_at.strftime("%Y-%m-%d %H:%M") if m.created_at else "-",
                ]
                for m in summaries
            ]
            output.table(["model", "versions", "latest", "aliases", "created"], rows)
            return 0
        name = words[0]
        if args.history:
            moves = registry.history(name)
            if args.json:
                print(json.dumps([m.to_dict() for m in moves], indent=2))
                return 0
            rows = [
                [
                    m.at.strftime("%Y-%m-%d %H:%M:%S"),
                    m.alias,
                    "-" if m.from_version is None else m.from_version,
                    m.to_version,
                    m.actor,
                    m.reason,
                ]
                for m in moves
            ]
            output.table(["when", "alias", "from", "to", "who", "why"], rows)
            return 0
        versions = registry.versions(name)
        if args.json:
            print(json.dumps([v.to_dict() for v in versions], indent=2))
            return 0
        rows = [
            [
                v.version,
                ",".join(v.aliases) or "-",
                v.flavor,
                f"{v.metric}={output.number(v.value)}" if v.metric else "-",
                f"{v.study}#{v.trial}" if v.study else "-",
                v.created_at.strftime("%Y-%m-%d %H:%M"),
                v.created_by,
            ]
            for v in versions
        ]
        output.table(["version", "aliases", "flavor", "metric", "source", "created", "by"], rows)
        return 0

    def _export(self, args: argparse.Namespace, words: list[str]) -> int:
        if len(words) != 1:
            raise SpecError("models", "usage: tuner models export NAME:VERSION --format onnx|pmml")
        version, made = open_registry(args).export(words[0], args.format)
        if args.json:
            print(json.dumps(made.to_dict(), indent=2))
            return 0
        print(
            f"{version.model}:{version.version} exported to {args.format}: max abs difference "
            f"{made.max_abs_diff:.3g} on {made.rows} example rows"
        )
        t = made.timings
        if t:
            print(
                f"one row: native {t['native_row']:.0f} µs, onnx {t['onnx_row']:.0f} µs "
                f"(auto: {made.runtime('row')}); {BATCH_ROWS:,} rows: native "
                f"{t['native_batch'] / 1000:.1f} ms, onnx {t['onnx_batch'] / 1000:.1f} ms "
                f"(auto: {made.runtime('batch')})"
            )
        return 0

    def _alias(self, args: argparse.Namespace, words: list[str]) -> int:
        if len(words) != 3:
            raise SpecError("models", "usage: tuner models alias NAME ALIAS VERSION")
        name, alias, version = words
        number = positive(version) if version.isdigit() else 0
        if number < 1:
            raise SpecError("version", f"must be a version number, not {version!r}")
        move = open_registry(args).set_alias(name, alias, number, args.reason)
        before = "new" if move.from_version is None else f"was {move.from_version}"
        print(f"{name}@{alias} -> version {move.to_version} ({before})")
        return 0
