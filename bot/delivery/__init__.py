"""Publishing with an exactly-once guarantee: the only place that decides retry, defer or give up.

The order of operations is the guarantee:
1. a delivery is claimed (a lease, so one worker handles it);
2. `sending` is committed before the platform is called, so a crash during the call is visible;
3. the adapter makes one attempt; its answer moves the delivery to published, deferred, skipped
   or failed in one commit;
4. a delivery found in `sending` whose worker is gone, or one whose last attempt ended in an
   uncertain way (timeout, dropped connection), is first looked up on the platform (`find`)
   and only sent again when the platform does not have it;
5. a look-up never decides by failing: any error from `find` leaves the delivery
   `unconfirmed` (looked up again on the retry backoff), never failed, never pausing the
   platform; after repeated failures over hours it is `needs_attention`, naming the account
   to check by hand and the `resolve` command that settles it.

Each job in its module: `deliverer` drains the queue platform by platform; `leases` fences every
platform call; `reconcile` looks before re-sending; `outcomes` records what an attempt means;
`spend` holds posts back over a budget; `report` is what a run prints.
"""

from bot.delivery.deliverer import Deliverer
from bot.delivery.outcomes import publisher_account_url
from bot.delivery.report import DeliveryReport, report_for, verdict

__all__ = ["Deliverer", "DeliveryReport", "publisher_account_url", "report_for", "verdict"]
