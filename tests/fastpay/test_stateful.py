"""A randomized run: many clients, transfers, authority crashes (before
and after commit) and client restarts, with f Byzantine authorities out
of 3f + 1 (f = 1 and f = 2). Money is conserved at every honest authority, no sequence number is
ever certified or voted twice, and every honest transfer completes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastpay_harness import BYZANTINE_MODES, Cluster
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from meshframes.fastpay.errors import Rejection
from meshframes.fastpay.messages import Address, ErrorKind

CLIENTS = 4
START = 100
# tmpfs keeps fsync free for this many short transactions; durability on a
# real disk under SIGKILL is the crash test's job.
TMP_ROOT = "/dev/shm" if Path("/dev/shm").is_dir() else None


class FastPayRun(RuleBasedStateMachine):
    """f Byzantine authorities out of 3f + 1 (subclasses choose f)."""

    F = 1

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="fastpay-stateful-", dir=TMP_ROOT))
        self.cluster: Cluster
        self.expected: list[int] = [START] * CLIENTS

    @property
    def n(self) -> int:
        return 3 * self.F + 1

    @initialize(modes=st.lists(st.sampled_from(BYZANTINE_MODES), min_size=2, max_size=2), first=st.integers(0, 6))
    def start(self, modes: list[str], first: int) -> None:
        byzantine = {(first + k) % self.n: modes[k] for k in range(self.F)}
        self.cluster = Cluster(self.dir, [1] * self.n, [START] * CLIENTS, byzantine)
        for i in range(CLIENTS):
            self.cluster.client(i)

    def _transfer(self, payer: int, payee: int, amount: int) -> None:
        client = self.cluster.client(payer)
        recipient = Address.fastpay(self.cluster.account_ids[payee].public_key)
        if amount > self.expected[payer]:
            try:
                client.transfer(recipient, amount, self.cluster.now)
            except Rejection as rejection:
                assert rejection.kind is ErrorKind.InsufficientFunding
                return
            raise AssertionError("an overdraft was signed")
        outcome = self.cluster.run(client, client.transfer(recipient, amount, self.cluster.now))
        assert len(outcome.confirmed) == 1, outcome.ignored
        self.expected[payer] -= amount
        self.expected[payee] += amount

    @rule(payer=st.integers(0, CLIENTS - 1), payee=st.integers(0, CLIENTS - 1), amount=st.integers(1, 120))
    def transfer(self, payer: int, payee: int, amount: int) -> None:
        self._transfer(payer, payee, amount)

    @rule(
        payer=st.integers(0, CLIENTS - 1),
        payee=st.integers(0, CLIENTS - 1),
        amount=st.integers(1, 60),
        victim=st.integers(0, 6),
        at=st.integers(0, 4),
        after_commit=st.booleans(),
    )
    def transfer_with_authority_crash(
        self, payer: int, payee: int, amount: int, victim: int, at: int, after_commit: bool
    ) -> None:
        """The victim crashes while handling its `at`-th message of this
        transfer: before commit (the message is lost) or after it (the
        reply is lost); it restarts from its store straight away."""
        name = self.cluster.authority_ids[victim % self.n].public_key
        if name not in self.cluster.honest:
            return
        seen = [0]

        def crash(target: bytes, message: object) -> bool:
            if target != name:
                return True
            seen[0] += 1
            if seen[0] - 1 != at:
                return True
            if after_commit:
                self.cluster.ask(name, message)  # type: ignore[arg-type]
            self.cluster.restart(name)
            return False

        self.cluster.deliver_filter = crash
        try:
            self._transfer(payer, payee, amount)
        finally:
            self.cluster.deliver_filter = lambda target, message: True

    @rule(victim=st.integers(0, 6))
    def restart_authority(self, victim: int) -> None:
        name = self.cluster.authority_ids[victim % self.n].public_key
        if name in self.cluster.honest:
            self.cluster.restart(name)

    @rule(index=st.integers(0, CLIENTS - 1))
    def restart_client(self, index: int) -> None:
        assert self.cluster.restart_client(index).resume(self.cluster.now) == []

    @invariant()
    def clients_agree_with_the_model(self) -> None:
        if hasattr(self, "cluster"):
            assert [self.cluster.client(i).balance for i in range(CLIENTS)] == self.expected

    @invariant()
    def money_is_conserved_at_every_honest_authority(self) -> None:
        if hasattr(self, "cluster"):
            for authority in self.cluster.honest.values():
                assert authority.total_balance() == START * CLIENTS

    @invariant()
    def one_order_per_sequence_number(self) -> None:
        if not hasattr(self, "cluster"):
            return
        seen: dict[tuple[bytes, int], object] = {}
        for authority in self.cluster.honest.values():
            values = [c.value for c in authority.store.all_certificates()]
            values += [v.value for v in authority.store.all_votes()]
            for order in values:
                key = (order.transfer.sender, order.transfer.sequence_number)
                assert seen.setdefault(key, order) == order, f"two orders for {key}"

    def teardown(self) -> None:
        if hasattr(self, "cluster"):
            for authority in self.cluster.honest.values():
                authority.store.close()
            for client in self.cluster.clients.values():
                client.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class FastPayRunF2(FastPayRun):
    F = 2


TestFastPayRunF1 = FastPayRun.TestCase
TestFastPayRunF1.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
TestFastPayRunF2 = FastPayRunF2.TestCase
TestFastPayRunF2.settings = settings(max_examples=100, stateful_step_count=25, deadline=None)
