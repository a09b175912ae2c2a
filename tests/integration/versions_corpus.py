# ruff: noqa: E501
"""A tiny corpus with versions, a translation and a repeal (written in ``tmp_path`` by tests)."""

from __future__ import annotations

DEADLINE_2020 = """---
title: "Decision on Permit Requests"
work: DEC-7
number: "DEC-7/2020"
date: "2019-12-02"
valid_from: 2020-01-01
language: en
---

# Decision DEC-7/2020 on Permit Requests

## Article 1 - Answering permit requests

1. A request for a building permit shall be answered in writing within 30 days of its receipt.
2. The answer shall state the reasons for any refusal and the means of appeal.
"""

DEADLINE_2024 = """---
title: "Decision on Permit Requests (amended)"
work: DEC-7
number: "DEC-7/2024"
date: "2024-05-20"
valid_from: 2024-07-01
language: en
---

# Decision DEC-7/2024 on Permit Requests

## Article 1 - Answering permit requests

1. A request for a building permit shall be answered in writing within 15 days of its receipt.
2. The answer shall state the reasons for any refusal and the means of appeal.
"""

DEADLINE_2024_FR = """---
title: "Décision relative aux demandes de permis (modifiée)"
work: DEC-7
number: "DEC-7/2024"
date: "2024-05-20"
valid_from: 2024-07-01
language: fr
---

# Décision DEC-7/2024 relative aux demandes de permis

## Article 1 - Réponse aux demandes de permis

1. Une demande de permis de construire reçoit une réponse écrite dans un délai de 15 jours à compter de sa réception.
2. La réponse indique les motifs de tout refus et les voies de recours.
"""

LAMPS_2018 = """---
title: "Circular on Street Lamp Inspections"
work: CIRC-3
date: "2018-03-01"
language: en
---

# Circular CIRC-3 on Street Lamp Inspections

## Article 1 - Inspection of street lamps

1. Every street lamp of the municipality shall be inspected by a licensed electrician twice a year.
"""

REPEAL_2023 = """---
title: "Decision on Public Lighting"
work: DEC-11
date: "2022-12-15"
valid_from: 2023-01-01
repeals: [CIRC-3]
language: en
---

# Decision DEC-11 on Public Lighting

## Article 1 - Repeal

1. Circular CIRC-3 on Street Lamp Inspections is repealed.

## Article 2 - Energy reports

1. The municipal energy office shall publish a report on the consumption of public lighting every year.
"""

DEADLINE_Q = "Within how many days must a building permit request be answered?"
DEADLINE_Q_FR = "Dans quel délai faut-il répondre à une demande de permis de construire ?"
LAMPS_Q = "How often must street lamps be inspected by an electrician?"

GIFTS_2018 = """---
title: "Decree on the Gift Register"
number: "D-2/2018"
date: "2018-01-15"
valid_from: 2018-02-01
valid_until: 2021-12-31
status: repealed
language: en
---

# Decree D-2/2018 on the Gift Register

## Article 3 - Registration of gifts

1. A gift received by an official in the course of duty shall be entered in the gift register within 5 days of its receipt.
"""
GIFTS_Q = "Within how many days must a gift be entered in the register?"
