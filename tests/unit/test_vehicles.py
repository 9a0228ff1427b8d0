import pytest

from revsearch.vehicles import Vehicle, parse_class_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Audi TTS Coupe 2012", Vehicle("Audi", "TTS", "Coupe", 2012)),
        ("AM General Hummer SUV 2000", Vehicle("AM General", "Hummer", "SUV", 2000)),
        (
            "Aston Martin V8 Vantage Convertible 2012",
            Vehicle("Aston Martin", "V8 Vantage", "Convertible", 2012),
        ),
        ("Land Rover Range Rover SUV 2012", Vehicle("Land Rover", "Range Rover", "SUV", 2012)),
        ("Rolls-Royce Ghost Sedan 2012", Vehicle("Rolls-Royce", "Ghost", "Sedan", 2012)),
        ("Dodge Dakota Club Cab 2007", Vehicle("Dodge", "Dakota Club", "Cab", 2007)),
        ("Tesla Model S Sedan 2012", Vehicle("Tesla", "Model S", "Sedan", 2012)),
        ("Ford GT", Vehicle("Ford", "GT", None, None)),
        ("", Vehicle()),
        (None, Vehicle()),
    ],
)  # fmt: skip
def test_parse_class_name(name: str | None, expected: Vehicle) -> None:
    assert parse_class_name(name) == expected
