"""A run that goes on to settle (`Demo.run(settle=...)`): after its
duration, with no new transfer asked for, it steps on until every live
authority has executed every certificate a client holds, and stops at the
first step where that holds. Seed 6 of the default scenario cut to 10 s is
one where it does not hold when the duration ends."""

from __future__ import annotations

from pathlib import Path

from meshframes.bench.latency import scenario_spec
from meshframes.sim.demo import Demo

SEED, DURATION, SETTLE, STEP = 6, 10.0, 60.0, 0.5


def _books(demo: Demo) -> list[dict[bytes, tuple[int, int]]]:
    mesh = demo.mesh
    return [{a: (s.balance, s.next_sequence_number) for a, s in mesh.authority(i).engine.accounts().items()}
            for i in mesh.honest_authorities()]


def test_unsettled_when_the_duration_ends(tmp_path: Path) -> None:
    demo = Demo(tmp_path, scenario_spec("default", SEED, DURATION))
    demo.run(settle=0.0)
    assert demo.ended == DURATION
    assert not demo.settled()
    books = _books(demo)
    lacking = [(j, book) for j, identity in enumerate(demo.mesh.account_ids[:demo.spec.clients])
               for book in books
               if len(demo.mesh.client(j).engine.store.sent_certificates(0))
               > book.get(identity.public_key, (0, 0))[1]]
    assert lacking


def test_settle_stops_at_the_first_step_where_every_live_authority_caught_up(tmp_path: Path) -> None:
    demo = Demo(tmp_path, scenario_spec("default", SEED, DURATION))
    seen: list[tuple[float, bool]] = []
    demo.run(lambda t: seen.append((t, demo.settled())), step=STEP, settle=SETTLE)
    assert DURATION < demo.ended < DURATION + SETTLE
    after = [(t, done) for t, done in seen if t > DURATION]
    # Stepped on while unsettled, stopped at the first settled step.
    assert [done for _, done in after] == [False] * (len(after) - 1) + [True]
    assert after[-1][0] == demo.ended
    assert all(t == DURATION + STEP * (k + 1) for k, (t, _) in enumerate(after))
    books = _books(demo)
    assert all(book == books[0] for book in books)
    # Nothing asked for after the duration: the planned transfers only.
    assert all(at < DURATION for *_, at in demo.plan)
