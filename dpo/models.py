"""The DPO's desk keeps its own records here (the retention schedule, legal holds)."""
