"""An independent labelled corpus: exports shaped like real Chinese enterprise tables, made with Faker's zh_CN,
zh_TW and en_US providers (not with export_gate.samples), each with its truth.

``generate(name, rows, seed)`` builds one dataset in memory (nothing is committed but this code): an Arrow
table, the subject keys a user would name (or none), and ``Truth``: the distinct natural persons in it with
personal information, with sensitive information per category, and which cells hold which kind of entity
(``labels``, for per-entity precision and recall; a warehouse address or a site's coordinates are labelled as
what they are, though they are about no one and count nobody). ``DATASETS`` names them all; ``PEOPLE_FREE``
are the tables that hold no person at all.

How the truth counts, as the law does: every natural person named in the export counts once, whatever their
role (customer, consignee, emergency contact, attending doctor, guardian, beneficiary); organisations (shops,
suppliers, bank branches) do not. A person is sensitive in a category when the export holds such information
about them: a bank card (financial_account), a diagnosis (medical_health), or, for a child under 14 on the
export date, a birth date or resident ID that shows it (minor_under_14).
"""

from __future__ import annotations

from corpus.build import AS_OF, CLASSES, DATASETS, PEOPLE_FREE, Dataset, Truth, generate

__all__ = ["AS_OF", "CLASSES", "DATASETS", "PEOPLE_FREE", "Dataset", "Truth", "generate"]
