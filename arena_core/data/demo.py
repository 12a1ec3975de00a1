"""The bundled demo dataset: short EN/FR sentences with sentiment and theme annotations.

The texts come from templates whose words correlate with the labels, so even a tiny model
learns something in a minute. The CSV is generated once (seeded) and committed; regenerate it
with ``python -m arena_core.data.demo --regenerate``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
from pathlib import Path

from arena_core.session.manifest import DatasetOptions

log = logging.getLogger(__name__)

DEMO_FILE = Path(__file__).parent / "demo_data" / "demo_annotations.csv"
SEED = 20240611
N_ROWS = 240
SENTIMENTS = ("positive", "negative", "neutral")
THEMES = ("economy", "health", "environment", "sports")

# Per language: subject phrases per theme, a subject for rows without theme, comments per
# sentiment, and sentence frames ({s} = subjects, {c} = comment).
VOCAB: dict[str, dict] = {
    "EN": {
        "themes": {
            "economy": ["inflation", "wages", "the stock market", "taxes", "small businesses"],
            "health": ["hospitals", "the new vaccine", "doctors", "public health", "nurses"],
            "environment": [
                "climate change",
                "air pollution",
                "the forests",
                "renewable energy",
                "recycling",
            ],
            "sports": [
                "the football team",
                "the marathon",
                "the olympic athletes",
                "the tennis final",
                "the cycling race",
            ],
        },
        "none": ["daily life", "the weekend", "our neighbourhood", "the holidays"],
        "and": "and",
        "comments": {
            "positive": [
                "great news, we are delighted",
                "a wonderful success",
                "real hope and excellent progress",
                "everyone is happy and proud",
            ],
            "negative": [
                "a terrible disaster",
                "worrying and getting worse",
                "a sad failure, people are angry",
                "awful news, a real crisis",
            ],
            "neutral": [
                "details will be published next week",
                "the report lists the figures",
                "it was mentioned in the meeting",
                "the committee reviews it on Monday",
            ],
        },
        "frames": [
            "News about {s}: {c}.",
            "Today's story on {s}: {c}.",
            "A report on {s}: {c}.",
            "Everyone talks about {s}: {c}.",
        ],
    },
    "FR": {
        "themes": {
            "economy": ["l'inflation", "les salaires", "la bourse", "les impôts", "les commerces"],
            "health": ["les hôpitaux", "le nouveau vaccin", "les médecins", "la santé publique"],
            "environment": [
                "le climat",
                "la pollution de l'air",
                "les forêts",
                "les énergies renouvelables",
                "le recyclage",
            ],
            "sports": [
                "l'équipe de football",
                "le marathon",
                "les athlètes olympiques",
                "la finale de tennis",
                "le tour cycliste",
            ],
        },
        "none": ["la vie quotidienne", "le week-end", "notre quartier", "les vacances"],
        "and": "et",
        "comments": {
            "positive": [
                "une excellente nouvelle, nous sommes ravis",
                "un magnifique succès",
                "un vrai espoir et de beaux progrès",
                "tout le monde est heureux et fier",
            ],
            "negative": [
                "une terrible catastrophe",
                "c'est inquiétant et cela empire",
                "un triste échec, les gens sont en colère",
                "une affreuse nouvelle, une vraie crise",
            ],
            "neutral": [
                "les détails seront publiés la semaine prochaine",
                "le rapport donne les chiffres",
                "le sujet a été évoqué en réunion",
                "le comité l'examine lundi",
            ],
        },
        "frames": [
            "Des nouvelles sur {s} : {c}.",
            "Le sujet du jour, {s} : {c}.",
            "Un rapport sur {s} : {c}.",
            "Tout le monde parle de {s} : {c}.",
        ],
    },
}


def demo_path() -> Path:
    """The committed demo CSV (columns text, lang, annotation)."""
    return DEMO_FILE


def demo_options() -> DatasetOptions:
    """How to read the demo file."""
    return DatasetOptions(
        text_col="text", layout="annotation-json", annotation_col="annotation", lang_col="lang"
    )


def generate_rows(n: int = N_ROWS, seed: int = SEED) -> list[dict[str, str]]:
    """Deterministic rows: half EN, half FR; 0-3 themes and one sentiment each."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        lang = "EN" if i % 2 == 0 else "FR"
        vocab = VOCAB[lang]
        sentiment = SENTIMENTS[rng.randrange(len(SENTIMENTS))]
        n_themes = rng.choices((0, 1, 2, 3), weights=(2, 4, 3, 1))[0]
        themes = sorted(rng.sample(THEMES, n_themes), key=THEMES.index)
        subjects = [rng.choice(vocab["themes"][t]) for t in themes] or [rng.choice(vocab["none"])]
        joined = (
            subjects[0]
            if len(subjects) == 1
            else ", ".join(subjects[:-1]) + f" {vocab['and']} {subjects[-1]}"
        )
        text = rng.choice(vocab["frames"]).format(
            s=joined, c=rng.choice(vocab["comments"][sentiment])
        )
        text = text[0].upper() + text[1:]
        annotation = {"sentiment": sentiment, "themes": themes}
        rows.append(
            {"text": text, "lang": lang, "annotation": json.dumps(annotation, ensure_ascii=False)}
        )
    return rows


def write_demo(path: Path = DEMO_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "lang", "annotation"])
        writer.writeheader()
        writer.writerows(generate_rows())
    log.info("wrote %s", path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The bundled demo dataset.")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the demo CSV")
    args = parser.parse_args(argv)
    if args.regenerate:
        print(write_demo())
    else:
        print(demo_path())


if __name__ == "__main__":
    main()
