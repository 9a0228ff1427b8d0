"""Make / model / body / year from a Stanford-Cars-style class name ("Audi TTS Coupe 2012")."""

from __future__ import annotations

from dataclasses import dataclass

MULTI_WORD_MAKES = ("AM General", "Aston Martin", "Land Rover", "Rolls-Royce")
BODY_STYLES = {
    "Sedan", "Coupe", "Convertible", "Hatchback", "SUV", "Wagon", "Van", "Minivan", "Cab",
    "Cabriolet", "Roadster", "Hardtop", "Pickup", "Truck", "Crossover", "Spyder", "Spider",
}  # fmt: skip


@dataclass(frozen=True)
class Vehicle:
    make: str | None = None
    model: str | None = None
    body: str | None = None
    year: int | None = None


def parse_class_name(class_name: str | None) -> Vehicle:
    """Best-effort split; unknown parts are None rather than guesses."""
    text = class_name or ""
    words = text.split()
    if not words:
        return Vehicle()
    year = None
    if len(words) > 1 and len(words[-1]) == 4 and words[-1].isdigit():
        year = int(words.pop())
    make = next((m for m in MULTI_WORD_MAKES if text.startswith(m + " ")), words[0])
    rest = words[len(make.split()) :]
    body = rest.pop() if len(rest) > 1 and rest[-1] in BODY_STYLES else None
    return Vehicle(make=make, model=" ".join(rest) or None, body=body, year=year)
