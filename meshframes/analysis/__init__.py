"""What a capture shows, from the codec: frame verdicts and totals
(`frames.py`), the fast per-frame verdict (`verdict.py`), and the
sessions, discoveries, payments and nodes seen on the air (`sections.py`),
put together as frames stream past (`run.py`).

No Scapy here: Scapy stays the definition of a verdict, and its dissector
is handed in by the caller for the frames the codec leaves to it.
"""
