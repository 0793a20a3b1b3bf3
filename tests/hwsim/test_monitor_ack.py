"""A userspace node on a monitor interface is acknowledged like a station
only when its monitor is active: the sender's TX reports (radiotap TX flags
in mac80211's TX status, read by the monitor transport) say which. A kernel
mesh peer whose unicast frames to us went unacknowledged would count them as
failures and drop the link, so interop needs the active monitor."""

from __future__ import annotations

import pytest

from meshframes.hwsim import Guest
from meshframes.hwsim.framesets import fastpay_frame
from meshframes.hwsim.wait import wait_for

pytestmark = pytest.mark.hwsim
PROBES = "meshframes.hwsim.probes"


@pytest.mark.parametrize("active", [False, True], ids=["passive", "active"])
def test_unicast_is_acknowledged_only_by_an_active_monitor(hwsim_guest: Guest,
                                                           active: bool) -> None:
    sender, receiver = hwsim_guest.reset_radios(2)
    sender.add_monitor("mon0")
    if active:
        receiver.make_userspace("mon0")
    else:
        receiver.add_monitor("mon0")
    sender.call(f"{PROBES}:monitor_open", "mon0")
    frames = [fastpay_frame(a1=receiver.mac_bytes, a2=sender.mac_bytes, message_type=8,
                            payload=bytes([index])) for index in range(5)]
    sender.call(f"{PROBES}:monitor_transmit", "mon0", frames)
    reports = []

    def all_reported() -> bool:
        reports.extend(sender.call(f"{PROBES}:monitor_tx_reports", "mon0"))
        return len(reports) >= len(frames)

    wait_for(all_reported, "the sender gets a TX report for each of its 5 unicast frames",
             timeout=10.0)
    assert {report.ra for report in reports} == {receiver.mac_bytes}
    assert [report.acked for report in reports] == [active] * len(frames)
    assert {report.rate_100kbps for report in reports} == {10}
