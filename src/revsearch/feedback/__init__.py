"""Users' verdicts on searches: recorded by the API (``POST /api/feedback``), turned into a
training/evaluation manifest and a summary by ``revsearch feedback export`` / ``stats``.

This is how the catalog and the model get better from use: the photos people searched with,
labelled by what they said the car was.
"""
