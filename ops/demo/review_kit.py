"""What reviewers write for each near-miss type (its `review` in its data file, and the shared
answers in everyday.yaml), prepared once per type and pronoun so the workflow only picks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from core.taxonomy.schema import NearMissTypeSpec
from ops.demo.data import Review, demo_data
from ops.demo.profiles import PRONOUN_WORDS
from ops.demo.sampling import cum

_DATA = demo_data()
_AFTER = _DATA.everyday.after_filing
_PRONOUN_KEYS = ("he", "she", "they")
ByPronoun = dict[str, tuple[str, ...]]
# A planted story's findings, by "story:after the control".
_STORY_FINDINGS: dict[str, Sequence[str]] = {
    "doorway_falls:False": _DATA.doorway_falls.findings,
    "family_notes:False": _DATA.family_notes.findings.before,
    "family_notes:True": _DATA.family_notes.findings.after,
    "late_start_cluster:False": _DATA.late_start_cluster.findings,
}


def by_pronoun(pool: Sequence[str], **extra: str) -> ByPronoun:
    """Each text of a pool written out once for each pronoun (the generator only picks)."""
    return {key: tuple(text.format(**PRONOUN_WORDS[key], **extra) for text in pool)
            for key in _PRONOUN_KEYS}


def _literal(text: str) -> str:
    """A label kept as it is when the pool it joins is formatted."""
    return text.replace("{", "{{").replace("}", "}}")


def _answers(weights: Mapping[str, float]) -> tuple[tuple[str, ...], list[float]]:
    """Answers and their cumulative shares (0..1) for a bisect on one random number."""
    total = sum(weights.values())
    return tuple(weights), cum([w / total for w in weights.values()])


# The leaders' questions, answered by what the reviewer finds the barrier was.
RELIABLE = {barrier: _answers(w) for barrier, w in _AFTER.control_reliable.items()}
WORK_AGAIN = {barrier: _answers(w) for barrier, w in _AFTER.would_work_again.items()}


@dataclass(frozen=True)
class Kit:
    """What the workflow writes for one near-miss type, prepared once."""

    fields: tuple[tuple[str, str, Any], ...]  # (key, how the value is made, its data)
    gates: tuple[tuple[str, bool, ByPronoun], ...]  # key, may be n/a, notes
    items: tuple[tuple[str, ByPronoun], ...]  # validation item key, notes
    factors: tuple[tuple[str, ...], ...]  # contributing factor sets to pick from
    stopped: dict[str, ByPronoun]  # what stopped harm, by barrier class
    findings: dict[str, ByPronoun]
    outcome: str
    communications: dict[str, tuple[str, ByPronoun, ByPronoun]]


def _field(spec: NearMissTypeSpec, wanted: Any, review: Review,
           limits: Any) -> tuple[str, str, Any]:
    """How one review field's value is made, and the data it is made from."""
    if wanted.kind == "choice":
        weights = review.choice_weights.get(wanted.key, {})
        choice = (wanted.options, cum([weights.get(o, 1.0) for o in wanted.options]))
        settled = tuple(o for o in review.choice_when_done.get(wanted.key, ())
                        if o in wanted.options)
        return wanted.key, "choice", (choice, settled)
    if wanted.kind == "yes_no":
        return wanted.key, "external" if wanted.key == "external_report" else "yes", None
    if wanted.kind == "number":
        return wanted.key, "number", None
    if wanted.kind == "datetime":
        how = ("prompt" if wanted.key == "medication_prompt_time" else "quarter"
               if wanted.key in ("scheduled_visit_time", "scheduled_start") else "after")
        minutes = _DATA.provider.habits.review.datetime_minutes.get(wanted.key, (0, 60))
        return wanted.key, how, minutes
    limit = limits.short_text_max_chars if wanted.kind == "text" \
        else limits.description_max_chars
    pool = review.field_texts.get(wanted.key)
    if pool:
        return wanted.key, "pool", {k: tuple(t[:limit] for t in v)
                                    for k, v in by_pronoun(pool).items()}
    return wanted.key, "sentence", limit


def _factor_sets(review: Review, factors: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """One, two or (now and then) three of the likeliest factors."""
    likely = tuple(k for k in review.likely_factors if k in factors)[:3] or tuple(factors[:3])
    return tuple([(k,) for k in likely] * 3
                 + [tuple(sorted(pair)) for pair in combinations(likely, 2)] * 7
                 + [tuple(sorted(likely))] * 4)


def make_kit(spec: NearMissTypeSpec, factors: Sequence[str], limits: Any) -> Kit:
    """The prepared texts for one type (a type the demo files do not describe gets defaults)."""
    found = _DATA.types.get(spec.key)
    review = found.review if found is not None else Review()
    control = review.control or "designed check"
    communications = {
        gate.key: (said.audience, by_pronoun((said.told,)), by_pronoun((said.not_told,)))
        for gate in spec.gates if (said := review.communications.get(gate.key)) is not None}
    return Kit(
        tuple(_field(spec, wanted, review, limits) for wanted in spec.fields
              if wanted.source is None),
        tuple((g.key, g.may_be_not_applicable,
               by_pronoun(review.gate_notes.get(g.key, [f"Done: {_literal(g.label)}."])))
              for g in spec.gates),
        tuple((v.key, by_pronoun(review.evidence_notes.get(
            v.key, [f"Seen and recorded: {_literal(v.label)}."]))) for v in spec.validation),
        _factor_sets(review, factors),
        {barrier: by_pronoun(pool, control=control)
         for barrier, pool in _AFTER.what_stopped_harm.items()},
        {"": by_pronoun(review.findings),
         **{key: by_pronoun(pool) for key, pool in _STORY_FINDINGS.items()}},
        review.outcome, communications)
